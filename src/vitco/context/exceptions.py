"""Errors of the context package.

::

    ContextError
    └── EditsFailed    search/replace blocks that do not apply (each problem named)
"""

from __future__ import annotations


class ContextError(Exception):
    """Base of context errors."""


class EditsFailed(ContextError):
    """Search/replace blocks of a changeset that do not apply to the task's files."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))
