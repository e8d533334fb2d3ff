"""Errors of the workflow.

::

    WorkflowError
    ├── BadBrief         a brief that is missing, unreadable or empty (carries the path)
    │   └── BadBriefField  a client or title holding a control character (field, code point)
    ├── RunBusy          another live process is driving that run (carries the holder's lease)
    ├── LeaseLost        this process lost the run's lease while driving it and stopped
    │                    without writing (carries run_id and the store's FenceRefused, if any)
    ├── NothingToResume  the run already finished (carries its status)
    ├── BadFork          a fork request that names no checkpoint or an invalid edit
    ├── TemplateInvalid  a workflow template with problems (each with file and line)
    ├── BadRepo          a --repo that is not a git repository
    ├── RepoRequired     a workflow that changes an existing repository, run without --repo
    └── DependencyUnavailable  the database (or Redis) stayed unreachable for the whole wait
                               (what failed, the message, how long it waited)
"""

from __future__ import annotations

from typing import Any


class WorkflowError(Exception):
    """Base of workflow errors."""


class BadBrief(WorkflowError):
    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"brief {path}: {reason}")


class BadBriefField(BadBrief):
    """A one-line field of the brief (``client``, ``title``) holding a control character.

    These fields end up in the delivery mail's headers and in terminals; a line break, an
    escape sequence or a bidi override there forges headers or hides text.
    """

    def __init__(self, path: str, field: str, char: str, position: int) -> None:
        self.field = field
        self.char = char
        self.position = position
        self.code_point = f"U+{ord(char):04X}"
        super().__init__(
            path,
            f"the {field} holds the control character {self.code_point} ({char!r}) at "
            f"character {position + 1}; write the {field} as plain text on one line",
        )


class RunBusy(WorkflowError):
    """Another live process holds the run's lease. ``holder`` is its ``vitco.leases.Lease``
    when it was seen (owner id included); the message leaves the owner id (host name, pid)
    out, since it can reach API clients."""

    def __init__(self, run_id: str, holder: Any = None) -> None:
        self.run_id = run_id
        self.holder = holder
        where = ""
        if holder is not None:
            left = max(0.0, holder.expires_at - holder.now)
            where = f" (lease token {holder.token}, {left:.0f} s left unless renewed)"
        super().__init__(f"run {run_id} is being driven by another process right now{where}")


class LeaseLost(WorkflowError):
    """The run's lease was lost while this process drove it (it was paused or cut off past
    the lease's expiry, and another worker took the run over): it stopped and wrote nothing
    more; the other worker carries the run on."""

    def __init__(self, run_id: str, refused: Any = None) -> None:
        self.run_id = run_id
        self.refused = refused
        super().__init__(
            f"run {run_id}: this process lost the run's lease (another worker took it over "
            "after it expired) and stopped without writing more"
        )


class NothingToResume(WorkflowError):
    def __init__(self, run_id: str, status: str) -> None:
        self.run_id = run_id
        self.status = status
        super().__init__(f"run {run_id} is {status}; there is nothing to resume")


class BadFork(WorkflowError):
    def __init__(self, run_id: str, reason: str) -> None:
        self.run_id = run_id
        self.reason = reason
        super().__init__(f"cannot fork run {run_id}: {reason}")


class TemplateInvalid(WorkflowError):
    def __init__(self, problems: list[Any]) -> None:
        self.problems = problems
        super().__init__("invalid workflow template:\n" + "\n".join(f"  {p}" for p in problems))


class BadRepo(WorkflowError):
    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"repository {path}: {reason}")


class RepoRequired(WorkflowError):
    """A template with ``needs_repo: true`` (add-feature, fix-bug) started without a repository
    to work on; carries the workflow's name and the fix."""

    def __init__(self, workflow: str) -> None:
        self.workflow = workflow
        self.fix = (
            f"vitco run BRIEF --workflow {workflow} --repo PATH (a git repository; vitco works "
            "on a copy and never touches the original), or --workflow deliver-project to "
            "start a new project"
        )
        super().__init__(
            f"the {workflow} workflow changes an existing repository, and none was named"
        )


class DependencyUnavailable(WorkflowError):
    """A run waited ``wait_s`` seconds for its database (or Redis) to answer again, in vain;
    the run stays resumable from its last checkpoint once the server is back."""

    def __init__(self, error: str, message: str, wait_s: float) -> None:
        self.error, self.message, self.wait_s = error, message, wait_s
        super().__init__(
            f"a dependency stayed unavailable for {wait_s:g} s ({error}: {message}); "
            "once it is back, vitco resume continues the run"
        )
