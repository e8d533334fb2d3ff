"""Errors of deployment.

::

    DeployError
    ├── BuildFailed   a build command exited non-zero (carries the command and its output)
    └── Unhealthy     the app never answered its health check in time (carries the log tail)
"""

from __future__ import annotations


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
