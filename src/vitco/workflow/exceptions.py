"""Errors of the workflow.

::

    WorkflowError
    ├── BadBrief         a brief that is missing, unreadable or empty (carries the path)
    ├── RunNotFound      no run with that id
    └── RunStopped       a run ended without delivering (carries status and reason)
"""

from __future__ import annotations


class WorkflowError(Exception):
    """Base of workflow errors."""


class BadBrief(WorkflowError):
    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"brief {path}: {reason}")


class RunStopped(WorkflowError):
    def __init__(self, run_id: str, status: str, reason: str) -> None:
        self.run_id = run_id
        self.status = status
        self.reason = reason
        super().__init__(f"run {run_id} ended {status}: {reason}")
