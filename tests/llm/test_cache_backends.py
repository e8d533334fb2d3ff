"""One conformance suite for every response cache: memory, SQLite (embedded), Redis
(distributed, a real server)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from vitco.config import Settings
from vitco.llm.cache import (
    MemoryResponseCache,
    RedisResponseCache,
    ResponseCache,
    SQLiteResponseCache,
)
from vitco.llm.localdb import LocalDB
from vitco.llm.model import ModelResponse, Usage
from vitco.llm.resolve import response_cache


@pytest.fixture(params=["memory", "sqlite", "redis"])
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> ResponseCache:
    if request.param == "memory":
        return MemoryResponseCache(clock=time.monotonic)
    if request.param == "sqlite":
        return SQLiteResponseCache(LocalDB(tmp_path / "llm.sqlite"), clock=time.time)
    client = request.getfixturevalue("redis_client")
    return RedisResponseCache(client, prefix=request.getfixturevalue("redis_prefix"))


def answer(text: str = '{"a": 1}') -> ModelResponse:
    return ModelResponse(
        content=text, usage=Usage(input_tokens=3, output_tokens=4), model="p:m", cost_usd=1.0
    )


def test_a_set_entry_is_got_back_without_this_calls_accounting(cache: ResponseCache) -> None:
    assert cache.get("k1") is None
    cache.set("k1", answer(), ttl_s=60)
    got = cache.get("k1")
    assert got is not None
    assert (got.content, got.usage.output_tokens, got.model) == ('{"a": 1}', 4, "p:m")
    assert got.cost_usd == 0.0  # what a hit costs is decided by the router, not the store
    assert cache.get("k2") is None


def test_entries_expire_after_their_ttl(cache: ResponseCache) -> None:
    cache.set("short", answer("short"), ttl_s=0.2)
    cache.set("long", answer("long"), ttl_s=60)
    time.sleep(0.4)
    assert cache.get("short") is None
    long = cache.get("long")
    assert long is not None and long.content == "long"


def test_a_zero_ttl_stores_nothing(cache: ResponseCache) -> None:
    cache.set("k", answer(), ttl_s=0)
    assert cache.get("k") is None


def test_redis_is_used_when_configured(tmp_path: Path, redis_client: Any) -> None:
    settings = Settings(home=tmp_path, redis_url="redis://127.0.0.1:6379/0")
    assert isinstance(response_cache(settings, LocalDB(tmp_path / "l.sqlite")), RedisResponseCache)
    local = Settings(home=tmp_path)
    assert isinstance(response_cache(local, LocalDB(tmp_path / "l.sqlite")), SQLiteResponseCache)
