"""The artifact store: where a run's files are kept (repository tarballs, reports, logs,
screenshots, built packages), by key.

A key is a relative, slash-separated name (``<tenant>/<run id>/repo.tar.gz``) checked by
:func:`check_key` before any backend sees it: each segment starts with a letter or digit and
holds only ``A-Z a-z 0-9 . _ -``; no empty, ``.`` or ``..`` segment, no leading slash, no
backslash or control character, at most 16 segments and 512 characters. So a key names the
same object on every backend and can never point outside the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from vitco.integrations.storage.exceptions import BadArtifactKey

MAX_KEY = 512
MAX_DEPTH = 16
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


@dataclass(frozen=True)
class StoredObject:
    """What the store knows of an object (never its content)."""

    key: str
    size: int
    modified: datetime


Listing = list[StoredObject]


class ArtifactStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Store ``data`` under ``key``, replacing what was there (atomically: a reader sees
        the old object or the new one, never part of one)."""
        ...

    def get(self, key: str) -> bytes:
        """The object under ``key``; :class:`ArtifactNotFound` if none."""
        ...

    def list(self, prefix: str = "") -> Listing:
        """The objects whose key starts with ``prefix`` (a whole number of segments, or
        empty for all), sorted by key."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error (idempotent)."""
        ...

    def url(self, key: str, expires_s: int = 3600) -> str:
        """Where a client may fetch ``key`` for ``expires_s`` seconds (``file://`` locally, a
        presigned URL on S3)."""
        ...


def check_key(key: str) -> list[str]:
    """``key``'s segments; :class:`BadArtifactKey` naming the problem if it is hostile."""
    if not isinstance(key, str) or not key:
        raise BadArtifactKey(str(key), "empty")
    if len(key) > MAX_KEY:
        raise BadArtifactKey(key, f"longer than {MAX_KEY} characters")
    if key.startswith("/"):
        raise BadArtifactKey(key, "absolute (starts with /)")
    if "\\" in key:
        raise BadArtifactKey(key, "contains a backslash")
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise BadArtifactKey(key, "contains a control character")
    parts = key.split("/")
    if len(parts) > MAX_DEPTH:
        raise BadArtifactKey(key, f"deeper than {MAX_DEPTH} segments")
    for part in parts:
        if part in ("", ".", ".."):
            raise BadArtifactKey(key, f"has an empty, '.' or '..' segment ({part!r})")
        if not _SEGMENT.fullmatch(part):
            raise BadArtifactKey(
                key, f"segment {part[:40]!r}: use A-Z, a-z, 0-9, '.', '_', '-' (not first)"
            )
    return parts


def check_prefix(prefix: str) -> list[str]:
    """A list prefix: empty, or a key (a trailing slash allowed)."""
    stripped = prefix[:-1] if prefix.endswith("/") else prefix
    return check_key(stripped) if stripped else []
