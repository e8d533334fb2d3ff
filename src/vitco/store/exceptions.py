"""Errors of the store.

::

    StoreError
    └── NotFound     no row of that kind with that id (carries kind and id)
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of store errors."""


class NotFound(StoreError):
    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} {key!r}")
