"""One conformance suite for every response cache: memory, the store's table on SQLite
(embedded) and on PostgreSQL (distributed), Redis (a fleet); all real servers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.llm.routing import FakeClock
from vitco.config import Settings
from vitco.llm.cache import (
    MemoryResponseCache,
    RedisResponseCache,
    ResponseCache,
    StoreResponseCache,
)
from vitco.llm.model import ModelResponse, Usage
from vitco.llm.resolve import response_cache
from vitco.store import open_database
from vitco.store.db import create, open_engine

DAY = 86400.0


def _unshared(*_: Any) -> Any:
    raise AssertionError("a process-local cache has no other process or version to look at")


@dataclass
class Backend:
    """A cache under test, and what the tests need to look behind it (the process-local
    memory cache has none of it)."""

    cache: ResponseCache
    reopen: Callable[[], ResponseCache] = _unshared
    """The same entries, as another process opens them."""
    overwrite: Callable[[str, str], None] = _unshared
    """Replace an entry's stored text, as an incompatible version of vitco might have written it."""
    stored: Callable[[], int] | None = None
    """How many entries are kept, live or expired (None: not countable from outside)."""


def _store_backend(url: str, engines: list[Engine]) -> Backend:
    open_database(url)  # migrated, as the router's store is
    engine = open_engine(url)

    def reopen() -> ResponseCache:
        other = create(url)  # a pool of its own: another process's connections
        engines.append(other)
        return StoreResponseCache(other)

    def overwrite(key: str, raw: str) -> None:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE llm_response_cache SET response = :raw WHERE key = :key"),
                {"raw": raw, "key": key},
            )

    def stored() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM llm_response_cache")).scalar_one())

    return Backend(StoreResponseCache(engine), reopen, overwrite, stored)


def _redis_backend(client: Any, prefix: str) -> Backend:
    def overwrite(key: str, raw: str) -> None:
        client.set(prefix + key, raw, keepttl=True)

    def stored() -> int:
        return sum(1 for _ in client.scan_iter(match=prefix + "*"))

    return Backend(
        RedisResponseCache(client, prefix=prefix),
        lambda: RedisResponseCache(client, prefix=prefix),
        overwrite,
        stored,
    )


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    """Engines a test made of its own (disposed afterwards)."""
    made: list[Engine] = []
    yield made
    for engine in made:
        engine.dispose()


def _backend(request: pytest.FixtureRequest, tmp_path: Path, engines: list[Engine]) -> Backend:
    if request.param == "memory":
        return Backend(MemoryResponseCache(clock=time.monotonic))
    if request.param == "store-sqlite":
        return _store_backend(f"sqlite:///{tmp_path / 'vitco.sqlite'}", engines)
    if request.param == "store-postgres":
        return _store_backend(request.getfixturevalue("postgres_url"), engines)
    client = request.getfixturevalue("redis_client")
    return _redis_backend(client, request.getfixturevalue("redis_prefix"))


@pytest.fixture(params=["memory", "store-sqlite", "store-postgres", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, engines: list[Engine]) -> Backend:
    """Every cache."""
    return _backend(request, tmp_path, engines)


@pytest.fixture(params=["store-sqlite", "store-postgres", "redis"])
def shared(request: pytest.FixtureRequest, tmp_path: Path, engines: list[Engine]) -> Backend:
    """Every cache that outlives a process (and is written by other versions of vitco)."""
    return _backend(request, tmp_path, engines)


def answer(text: str = '{"a": 1}') -> ModelResponse:
    return ModelResponse(
        content=text,
        usage=Usage(input_tokens=3, output_tokens=4),
        model="p:m",
        cost_usd=1.0,
        retries=2,
        tier="standard",
    )


def test_a_set_entry_is_got_back_without_this_calls_accounting(backend: Backend) -> None:
    cache = backend.cache
    assert cache.get("k1") is None
    cache.set("k1", answer(), ttl_s=60)
    got = cache.get("k1")
    assert got is not None
    assert (got.content, got.usage.output_tokens, got.model) == ('{"a": 1}', 4, "p:m")
    # what a hit costs is decided by the router, not the cache
    assert (got.cost_usd, got.retries, got.tier, got.cached) == (0.0, 0, None, False)
    assert cache.get("k2") is None


def test_setting_a_key_again_replaces_its_entry(backend: Backend) -> None:
    backend.cache.set("k", answer("first"), ttl_s=60)
    backend.cache.set("k", answer("second"), ttl_s=60)
    got = backend.cache.get("k")
    assert got is not None and got.content == "second"
    if backend.stored is not None:
        assert backend.stored() == 1


def test_entries_expire_after_their_ttl(backend: Backend) -> None:
    backend.cache.set("short", answer("short"), ttl_s=0.2)
    backend.cache.set("long", answer("long"), ttl_s=60)
    time.sleep(0.4)  # Redis expires on its own clock; the others read the wall clock
    assert backend.cache.get("short") is None
    long = backend.cache.get("long")
    assert long is not None and long.content == "long"


def test_a_zero_ttl_stores_nothing(backend: Backend) -> None:
    backend.cache.set("k", answer(), ttl_s=0)
    assert backend.cache.get("k") is None
    if backend.stored is not None:
        assert backend.stored() == 0


def test_another_process_sees_the_entries(shared: Backend) -> None:
    shared.cache.set("k", answer(), ttl_s=60)
    got = shared.reopen().get("k")
    assert got is not None and got.content == '{"a": 1}'


@pytest.mark.parametrize(
    "raw", ['{"nope": 1}', "not json at all", '{"content": 3, "usage": []}'], ids=repr
)
def test_an_unreadable_entry_is_a_miss_and_is_dropped(shared: Backend, raw: str) -> None:
    assert shared.stored is not None
    shared.cache.set("k", answer(), ttl_s=60)
    shared.cache.set("other", answer(), ttl_s=60)
    shared.overwrite("k", raw)
    assert shared.cache.get("k") is None
    assert shared.stored() == 1  # the unreadable entry is gone, the other one is not
    shared.cache.set("k", answer("fresh"), ttl_s=60)  # and the key is usable again
    got = shared.cache.get("k")
    assert got is not None and got.content == "fresh"


# the store's table: time from the clock passed in, expired rows swept ------------------------


@pytest.fixture
def store_url(database_url: str) -> str:
    open_database(database_url)
    return database_url


def test_store_entries_live_by_the_clock_passed_in_and_purge_deletes_expired_ones(
    store_url: str,
) -> None:
    clock = FakeClock()
    cache = StoreResponseCache(open_engine(store_url), clock=clock)
    cache.set("day", answer("day"), ttl_s=DAY)
    cache.set("hour", answer("hour"), ttl_s=3600)

    clock.advance(3600)
    assert cache.get("hour") is None  # expired at exactly its TTL
    assert cache.get("day") is not None
    assert cache.purge() == 1
    clock.advance(DAY)
    assert cache.get("day") is None
    assert cache.purge() == 1
    assert cache.purge() == 0


def test_store_writes_sweep_expired_entries_now_and_then(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("vitco.llm.cache._PURGE_EVERY", 3)
    clock = FakeClock()
    engine = open_engine(store_url)
    cache = StoreResponseCache(engine, clock=clock)
    cache.set("old", answer(), ttl_s=10)
    clock.advance(10)
    cache.set("new1", answer(), ttl_s=10)

    def keys() -> list[str]:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT key FROM llm_response_cache ORDER BY key"))
            return list(rows.scalars())

    assert keys() == ["new1", "old"]  # expired, not yet swept
    cache.set("new2", answer(), ttl_s=10)  # the third write sweeps
    assert keys() == ["new1", "new2"]


# which cache a router gets ------------------------------------------------------------------


def test_redis_is_used_when_configured_else_the_store(tmp_path: Path, redis_client: Any) -> None:
    settings = Settings(home=tmp_path, redis_url="redis://127.0.0.1:6379/0")
    assert isinstance(response_cache(settings), RedisResponseCache)
    assert not (tmp_path / "vitco.sqlite").exists()  # Redis configured: the store is not opened

    local = Settings(home=tmp_path)
    cache = response_cache(local)
    assert isinstance(cache, StoreResponseCache)
    assert cache.engine is open_engine(local.resolved_database_url)  # the store's own engine
    assert not (tmp_path / "llm-state.sqlite").exists()
