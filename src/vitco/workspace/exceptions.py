"""Errors of the project workspace.

::

    WorkspaceError
    └── UnsafePath       a path that would leave the workspace (absolute, '..', symlink out)

The repository's own errors (git failed, a merge conflict) are ``integrations.git``'s.
"""

from __future__ import annotations


class WorkspaceError(Exception):
    """Base of workspace errors."""


class UnsafePath(WorkspaceError):
    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"refusing path {path!r}: {reason}")
