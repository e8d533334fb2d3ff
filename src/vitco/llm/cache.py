"""The response cache: an identical request at temperature 0 is not paid for twice.

"Identical" means the same model and the same request fingerprint (messages, output schema,
temperature, max tokens; see ``ModelRequest.fingerprint``); the call key and the tier are not
part of it, so two calls that ask exactly the same thing share the answer. Only temperature-0
requests are cached: at a higher temperature a caller asks for variety, and a cache would
take it away.

Hits are answered with ``cached=True`` and ``cost_usd=0`` and are written to the cost ledger
as cache hits by the usual ledger path.

Where the entries live: a SQLite file of the model layer's own in the data dir, not a table in
the store (the reasons are in :mod:`vitco.llm.localdb`: disposable, high-churn, shared by all
projects). With ``VITCO_REDIS_URL`` set (the distributed setup) the entries live in Redis
instead, shared by every worker: :class:`RedisResponseCache`. :class:`MemoryResponseCache`
serves tests and benchmarks.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from pydantic import ValidationError

from vitco.llm.localdb import LocalDB
from vitco.llm.model import ModelRequest, ModelResponse

__all__ = [
    "MemoryResponseCache",
    "RedisResponseCache",
    "ResponseCache",
    "SQLiteResponseCache",
    "cache_key",
]

_PURGE_EVERY = 200  # writes between sweeps of expired entries


def cache_key(model_id: str, request: ModelRequest) -> str | None:
    """The cache key of ``request`` on ``model_id``; None when it must not be cached."""
    if request.temperature != 0:
        return None
    blob = f"{model_id}\0{request.fingerprint()}".encode()
    return hashlib.sha256(blob).hexdigest()


class ResponseCache(Protocol):
    """Answers by key, each kept for a time to live."""

    def get(self, key: str) -> ModelResponse | None:
        """The live entry for ``key``, if any."""
        ...

    def set(self, key: str, response: ModelResponse, ttl_s: float) -> None:
        """Keep ``response`` under ``key`` for ``ttl_s`` seconds."""
        ...


def _stored(response: ModelResponse) -> str:
    """What is kept of an answer: its content, usage and model, not this call's accounting."""
    return response.model_dump_json(include={"content", "usage", "model"})


class SQLiteResponseCache:
    """The embedded cache: one table in the model layer's SQLite file."""

    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS response_cache (key TEXT PRIMARY KEY, model TEXT NOT NULL, "
        "response TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL)",
        "CREATE INDEX IF NOT EXISTS ix_response_cache_expires ON response_cache (expires_at)",
    )

    def __init__(self, db: LocalDB, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        self._writes = 0
        self._lock = threading.Lock()
        db.ensure(self.SCHEMA)

    def get(self, key: str) -> ModelResponse | None:
        rows = self.db.execute(
            "SELECT response FROM response_cache WHERE key = ? AND expires_at > ?",
            (key, self.clock()),
        )
        if not rows:
            return None
        try:
            return ModelResponse.model_validate_json(rows[0][0])
        except ValidationError:  # written by an incompatible version: treat as a miss
            self.db.execute("DELETE FROM response_cache WHERE key = ?", (key,))
            return None

    def set(self, key: str, response: ModelResponse, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        now = self.clock()
        self.db.execute(
            "INSERT OR REPLACE INTO response_cache VALUES (?, ?, ?, ?, ?)",
            (key, response.model, _stored(response), now, now + ttl_s),
        )
        with self._lock:
            self._writes += 1
            sweep = self._writes % _PURGE_EVERY == 0
        if sweep:
            self.purge()

    def purge(self) -> int:
        """Delete expired entries; returns how many there were."""
        now = self.clock()
        [(count,)] = self.db.execute(
            "SELECT COUNT(*) FROM response_cache WHERE expires_at <= ?", (now,)
        )
        self.db.execute("DELETE FROM response_cache WHERE expires_at <= ?", (now,))
        return int(count)


class MemoryResponseCache:
    """A process-local cache (tests, benchmarks)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._entries: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> ModelResponse | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self.clock():
                del self._entries[key]
                return None
        return ModelResponse.model_validate_json(entry[1])

    def set(self, key: str, response: ModelResponse, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        with self._lock:
            self._entries[key] = (self.clock() + ttl_s, _stored(response))


class RedisResponseCache:
    """The distributed cache: one Redis key per entry, expired by Redis itself (``PX``).

    The ``redis.Redis`` client is passed in; ``prefix`` namespaces the keys (one deployment,
    or one test run, per prefix).
    """

    def __init__(self, client: Any, *, prefix: str = "vitco:cache:") -> None:
        self.client = client
        self.prefix = prefix

    def get(self, key: str) -> ModelResponse | None:
        raw = self.client.get(self.prefix + key)
        if raw is None:
            return None
        try:
            return ModelResponse.model_validate_json(raw)
        except ValidationError:  # written by an incompatible version: treat as a miss
            self.client.delete(self.prefix + key)
            return None

    def set(self, key: str, response: ModelResponse, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        self.client.set(self.prefix + key, _stored(response), px=max(1, int(ttl_s * 1000)))
