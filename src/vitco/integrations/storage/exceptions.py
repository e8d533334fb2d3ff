"""Errors of artifact storage (vendor errors are translated inside each adapter).

::

    StorageError
    ├── BadArtifactKey      a key that could leave its place: empty or dot segments, a
    │                       leading slash, a backslash, a control character, too long
    │                       (carries key, problem)
    ├── ArtifactNotFound    no object under that key (carries key)
    └── StorageUnavailable  the backend failed or could not be reached (carries backend, detail)
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of storage errors."""


class BadArtifactKey(StorageError):
    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"artifact key {key[:120]!r}: {problem}")


class ArtifactNotFound(StorageError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"no artifact {key!r}")


class StorageUnavailable(StorageError):
    def __init__(self, backend: str, detail: str) -> None:
        self.backend = backend
        self.detail = detail
        super().__init__(f"{backend} storage is unavailable: {detail}")
