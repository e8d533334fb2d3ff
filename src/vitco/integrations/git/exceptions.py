"""Errors of the project's git repository.

::

    RepoError
    ├── GitError         a git command failed (carries the command and its stderr)
    ├── MergeConflict    a task branch does not rebase cleanly onto main (carries the files)
    ├── CommitIncomplete a task's commit lacks files its changeset wrote (git skipped them)
    └── HostError        the git host (local bare repositories, GitHub) refused or failed
        ├── UnsafeName   a repository, branch or remote name that could leave its place
        └── HostRefused  the host's API answered an error (carries the status and message)
"""

from __future__ import annotations


class RepoError(Exception):
    """Base of the repository's errors."""


class GitError(RepoError):
    def __init__(self, args: list[str], stderr: str, code: int) -> None:
        self.args_ = args
        self.stderr = stderr
        self.code = code
        super().__init__(f"git {' '.join(args)} failed ({code}): {stderr.strip()[:500]}")


class MergeConflict(RepoError):
    def __init__(self, branch: str, files: list[str]) -> None:
        self.branch = branch
        self.files = files
        super().__init__(
            f"{branch} conflicts with main in: {', '.join(files) or '(unknown files)'}"
        )


class CommitIncomplete(RepoError):
    """Task ``task``'s commit does not hold ``paths``, which its changeset wrote."""

    def __init__(self, task: str, paths: list[str]) -> None:
        self.task = task
        self.paths = paths
        super().__init__(
            f"{task}: the commit is missing files the changeset wrote: {', '.join(paths)}; "
            "refusing to mark the task done"
        )


class HostError(RepoError):
    """Base of the git host's errors."""


class UnsafeName(HostError):
    """``name`` (a repository, a ref, a URL) is refused: ``reason`` says why."""

    def __init__(self, what: str, name: str, reason: str) -> None:
        self.what = what
        self.name = name
        self.reason = reason
        super().__init__(f"refusing {what} {name[:200]!r}: {reason}")


class HostRefused(HostError):
    """The host answered ``status`` to ``action`` (its message, never a credential)."""

    def __init__(self, host: str, action: str, status: int, message: str) -> None:
        self.host = host
        self.action = action
        self.status = status
        self.message = message
        super().__init__(f"{host}: {action} failed ({status}): {message[:500]}")
