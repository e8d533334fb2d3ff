"""API keys: made here, shown once, stored as an argon2 hash, checked on every request.

A key reads ``vk_<prefix>_<secret>``: ``prefix`` (12 hex digits, unique, kept in clear and
shown in listings) finds the one row to verify against, so a request costs one lookup and
not a hash per key; ``secret`` (32 random bytes) is what the hash protects. Only the argon2id
hash of the whole key is stored: a copy of the database lets no one call the API.

argon2 is slow on purpose (tens of milliseconds); a verified key is remembered in memory by
its SHA-256 for the life of the process, so each key is verified once per process. The row is
still read on every request, so a revoked or expired key is refused at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from vitco.api.exceptions import Unauthorized
from vitco.store.access import AccessStore
from vitco.store.models import ApiKey, utcnow

KEY_START = "vk"
TOUCH_EVERY = timedelta(minutes=1)  # last use is written at most this often per key
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's tenant, the key, its user (if any) and role."""

    tenant_id: str
    key_id: str
    user_id: str | None
    role: str


def mint() -> tuple[str, str]:
    """A new key and its prefix."""
    prefix = secrets.token_hex(6)
    return f"{KEY_START}_{prefix}_{secrets.token_urlsafe(32)}", prefix


def prefix_of(key: str) -> str | None:
    start, _, rest = key.partition("_")
    prefix, _, secret = rest.partition("_")
    if start != KEY_START or len(prefix) != 12 or not secret:
        return None
    return prefix


def issue(
    access: AccessStore,
    tenant_id: str,
    role: str,
    *,
    name: str = "",
    user_id: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key of ``tenant_id``; returns its row and the key itself (shown once)."""
    key, prefix = mint()
    row = access.add_key(
        tenant_id,
        prefix=prefix,
        hashed=_hasher.hash(key),
        role=role,
        name=name,
        user_id=user_id,
        expires_at=expires_at,
    )
    return row, key


class Authenticator:
    """Turns an ``Authorization`` header into a ``Caller`` (see the module docstring)."""

    def __init__(
        self, access: AccessStore, clock: Callable[[], datetime] = utcnow, cache_size: int = 10_000
    ) -> None:
        self.access = access
        self.clock = clock
        self.cache_size = cache_size
        self._verified: dict[str, str] = {}  # sha256 of a key -> the hash it matched
        self._lock = threading.Lock()

    def authenticate(self, authorization: str | None) -> Caller:
        scheme, _, key = (authorization or "").partition(" ")
        prefix = prefix_of(key.strip()) if scheme.lower() == "bearer" else None
        row = self.access.key_by_prefix(prefix) if prefix else None
        if row is None or not self._matches(row, key.strip()):
            raise Unauthorized()
        now = self.clock()
        if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
            raise Unauthorized()
        if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
            self.access.touch_key(row.id, now)
        return Caller(row.tenant_id, row.id, row.user_id, row.role)

    def _matches(self, row: ApiKey, key: str) -> bool:
        digest = hashlib.sha256(key.encode()).hexdigest()
        with self._lock:
            known = self._verified.get(digest)
        if known is not None:
            return hmac.compare_digest(known, row.hash)
        try:
            _hasher.verify(row.hash, key)
        except (VerificationError, InvalidHashError):
            return False
        with self._lock:
            if len(self._verified) >= self.cache_size:
                self._verified.clear()
            self._verified[digest] = row.hash
        return True
