"""The response cache: an identical request at temperature 0 is not paid for twice.

"Identical" means the same model and the same request fingerprint (messages, output schema,
temperature, max tokens; see ``ModelRequest.fingerprint``); the call key and the tier are not
part of it, so two calls that ask exactly the same thing share the answer. Only temperature-0
requests are cached: at a higher temperature a caller asks for variety, and a cache would
take it away.

Hits are answered with ``cached=True`` and ``cost_usd=0`` and are written to the cost ledger
as cache hits by the usual ledger path.

Where the entries live: in the store's database, the ``llm_response_cache`` table
(:class:`StoreResponseCache`), created and versioned by the store's migrations like every other
table, so there is one schema to upgrade and one database to back up, on SQLite (one machine)
and on PostgreSQL alike. The entries are disposable (deleting them all costs repeated calls,
nothing else) and expired ones are swept every few hundred writes. With ``VITCO_REDIS_URL`` set
(a fleet of workers) the entries live in Redis instead, shared by every worker and expired by
Redis itself: :class:`RedisResponseCache`; the heavy churn of a cache then stays out of the
database. :class:`MemoryResponseCache` serves tests and benchmarks.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy import Engine, bindparam, delete, select, text

from vitco.llm.model import ModelRequest, ModelResponse
from vitco.store.llm_state import cache_table, upsert

__all__ = [
    "MemoryResponseCache",
    "RedisResponseCache",
    "ResponseCache",
    "StoreResponseCache",
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


_LIVE = select(cache_table.c.response).where(
    cache_table.c.key == bindparam("key"), cache_table.c.expires_at > bindparam("now")
)
_FORGET = delete(cache_table).where(cache_table.c.key == bindparam("key"))
_EXPIRED = delete(cache_table).where(cache_table.c.expires_at <= bindparam("now"))
_NO_FLUSH_WAIT = text("SET LOCAL synchronous_commit TO OFF")


class StoreResponseCache:
    """The cache in the store's database: the ``llm_response_cache`` table (SQLite or
    PostgreSQL), one SQLAlchemy Core statement a call through the ``engine`` passed in (the
    store's, whose schema the store's migrations keep at head)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock
        self._writes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> ModelResponse | None:
        with self.engine.connect() as conn:
            raw = conn.execute(_LIVE, {"key": key, "now": self.clock()}).scalar()
        if raw is None:
            return None
        try:
            return ModelResponse.model_validate_json(raw)
        except ValidationError:  # written by an incompatible version: treat as a miss
            with self.engine.begin() as conn:
                conn.execute(_FORGET, {"key": key})
            return None

    def set(self, key: str, response: ModelResponse, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        now = self.clock()
        row = {
            "key": key,
            "model": response.model,
            "response": _stored(response),
            "created_at": now,
            "expires_at": now + ttl_s,
        }
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # An entry lost to a server crash costs one repeated call: no need to wait for
                # the WAL flush (SQLite runs at synchronous=NORMAL for the same reason).
                conn.execute(_NO_FLUSH_WAIT)
            upsert(conn, cache_table, row)
        with self._lock:
            self._writes += 1
            sweep = self._writes % _PURGE_EVERY == 0
        if sweep:
            self.purge()

    def purge(self) -> int:
        """Delete expired entries; returns how many there were."""
        with self.engine.begin() as conn:
            return int(conn.execute(_EXPIRED, {"now": self.clock()}).rowcount)


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
