"""Errors of the toolchains.

::

    ToolchainError
    ├── UnknownToolchain         a plan names a toolchain vitco does not have (carries the known)
    ├── BadRequirements          a requirements line vitco will not hand to pip (line, reason)
    └── DependencyInstallFailed  fetching or installing dependencies failed (carries the output)

A failing test run is not an error: it is a ``TestReport``. A delivery that cannot be built or
started raises the deploy integration's errors (``BuildFailed``, ``Unhealthy``).
"""

from __future__ import annotations

from collections.abc import Iterable

REQUIREMENTS = "requirements.txt"


class ToolchainError(Exception):
    """Base of toolchain errors."""


class UnknownToolchain(ToolchainError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = sorted(known)
        super().__init__(f"no toolchain named {name!r}; known: {', '.join(self.known)}")


class BadRequirements(ToolchainError):
    """A line of ``requirements.txt`` that vitco will not hand to pip: ``line`` (1-based),
    its ``text`` and the ``reason``."""

    def __init__(self, line: int, text: str, reason: str) -> None:
        self.line = line
        self.text = text
        self.reason = reason
        super().__init__(f"{REQUIREMENTS} line {line} ({text[:80]!r}): {reason}")


class DependencyInstallFailed(ToolchainError):
    """Fetching or installing the dependencies failed; ``output`` is the tool's."""

    def __init__(self, output: str, stage: str = "installing") -> None:
        self.output = output
        self.stage = stage
        super().__init__(f"{stage} the project's dependencies failed: {output.strip()[-800:]}")
