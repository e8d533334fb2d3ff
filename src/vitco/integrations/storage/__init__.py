"""Storage: the ``ArtifactStore`` protocol, the local data dir default and the S3 adapter."""

from vitco.integrations.storage.exceptions import (
    ArtifactNotFound,
    BadArtifactKey,
    StorageError,
    StorageUnavailable,
)
from vitco.integrations.storage.local import LocalArtifactStore
from vitco.integrations.storage.protocol import ArtifactStore, StoredObject, check_key
from vitco.integrations.storage.s3 import S3ArtifactStore

__all__ = [
    "ArtifactNotFound",
    "ArtifactStore",
    "BadArtifactKey",
    "LocalArtifactStore",
    "S3ArtifactStore",
    "StorageError",
    "StorageUnavailable",
    "StoredObject",
    "check_key",
]
