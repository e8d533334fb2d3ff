"""Errors of the store.

::

    StoreError
    ├── NotFound              no row of that kind with that id (carries kind and id)
    └── SandboxSlotContended  other processes kept taking the free sandbox slot first
                              (carries project_id and attempts)
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of store errors."""


class NotFound(StoreError):
    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} {key!r}")


class SandboxSlotContended(StoreError):
    """A new project found no sandbox slot of its own: each of ``attempts`` tries picked the
    smallest free slot and lost it to another process creating a project at the same time."""

    def __init__(self, project_id: str, attempts: int) -> None:
        self.project_id = project_id
        self.attempts = attempts
        super().__init__(
            f"project {project_id!r} was not created: {attempts} times another process took "
            "the free sandbox slot first. Create it again (nothing was stored)"
        )
