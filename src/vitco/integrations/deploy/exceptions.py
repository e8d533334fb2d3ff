"""Errors of deployment.

::

    DeployError
    ├── BuildFailed   a build command exited non-zero (carries the command and its output)
    ├── Unhealthy     the app never answered its health check in time (carries the log tail)
    └── DataTooLarge  the app's data is past the bound of a scratch copy for smoke checks
"""

from __future__ import annotations

MAX_LEVELS = 64


class DeployError(Exception):
    """Base of deploy errors."""


class BuildFailed(DeployError):
    def __init__(self, command: list[str], output: str) -> None:
        self.command = command
        self.output = output
        super().__init__(f"build step {' '.join(command)!r} failed: {output.strip()[-500:]}")


class Unhealthy(DeployError):
    def __init__(self, url: str, waited_s: float, log_tail: str) -> None:
        self.url = url
        self.waited_s = waited_s
        self.log_tail = log_tail
        super().__init__(
            f"the app never became healthy at {url} within {waited_s:.0f}s; "
            f"its log ends with: {log_tail.strip()[-500:] or '(nothing)'}"
        )


class DataTooLarge(DeployError):
    def __init__(self, max_bytes: int, max_entries: int, what: str) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.what = what
        super().__init__(
            f"the app's data directory is too large to copy for the smoke checks (too many "
            f"{what}; at most {max_bytes // (1 << 20)} MiB in {max_entries} entries, "
            f"{MAX_LEVELS} levels deep); keep less data or raise the sandbox's disk limit"
        )
