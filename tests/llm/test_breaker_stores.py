"""One conformance suite for every place breakers are shared: the store's table on SQLite and
on PostgreSQL, and Redis (real servers). What one process saves, another loads."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.llm.routing import FakeClock
from vitco.config import Settings
from vitco.llm.breaker import (
    BreakerBoard,
    BreakerPolicy,
    BreakerStatus,
    BreakerStore,
    RedisBreakerStore,
    StoreBreakerStore,
)
from vitco.llm.resolve import breaker_store
from vitco.store import open_database
from vitco.store.db import create, open_engine

COOLDOWN = 30.0


@dataclass
class Shared:
    """A breaker store under test, and what the tests need to look behind it."""

    store: BreakerStore
    reopen: Callable[[], BreakerStore]
    """The same state, as another process (or host) opens it."""
    plant: Callable[[str, dict[str, Any]], None]
    """Write a provider's entry as another version of vitco might have."""


def _store_shared(url: str, engines: list[Engine]) -> Shared:
    open_database(url)  # migrated, as the router's store is
    engine = open_engine(url)

    def reopen() -> BreakerStore:
        other = create(url)  # a pool of its own: another process's connections
        engines.append(other)
        return StoreBreakerStore(other)

    def plant(provider: str, entry: dict[str, Any]) -> None:
        row = {"opened_at": None, "last_error": None, **entry, "provider": provider}
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO llm_breakers (provider, state, failures, opened_at, last_error,"
                    " updated_at) VALUES (:provider, :state, :failures, :opened_at, :last_error,"
                    " 0)"
                ),
                row,
            )

    return Shared(StoreBreakerStore(engine), reopen, plant)


def _redis_shared(client: Any, prefix: str) -> Shared:
    def plant(provider: str, entry: dict[str, Any]) -> None:
        client.hset(prefix + "breakers", provider, json.dumps({"provider": provider, **entry}))

    return Shared(
        RedisBreakerStore(client, prefix=prefix),
        lambda: RedisBreakerStore(client, prefix=prefix),
        plant,
    )


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    """Engines a test made of its own (disposed afterwards)."""
    made: list[Engine] = []
    yield made
    for engine in made:
        engine.dispose()


@pytest.fixture(params=["store-sqlite", "store-postgres", "redis"])
def shared(request: pytest.FixtureRequest, tmp_path: Path, engines: list[Engine]) -> Shared:
    if request.param == "store-sqlite":
        return _store_shared(f"sqlite:///{tmp_path / 'vitco.sqlite'}", engines)
    if request.param == "store-postgres":
        return _store_shared(request.getfixturevalue("postgres_url"), engines)
    client = request.getfixturevalue("redis_client")
    return _redis_shared(client, request.getfixturevalue("redis_prefix"))


def by_provider(store: BreakerStore) -> dict[str, BreakerStatus]:
    return {s.provider: s for s in store.load()}


def test_nothing_saved_loads_nothing(shared: Shared) -> None:
    assert shared.store.load() == []


def test_a_saved_status_loads_back_in_another_process_and_the_last_save_wins(
    shared: Shared,
) -> None:
    opened = BreakerStatus(
        "openai", "open", 5, opened_at=1234.5, last_error="HTTP 503", retry_in_s=9
    )
    shared.store.save(BreakerStatus("openai", "closed", 2, last_error="HTTP 429"))
    shared.store.save(opened)
    shared.store.save(BreakerStatus("box", "closed", 0))

    loaded = by_provider(shared.reopen())
    assert set(loaded) == {"openai", "box"}
    # everything but the countdown, which is relative to when it was taken
    assert loaded["openai"] == BreakerStatus("openai", "open", 5, 1234.5, "HTTP 503")
    assert loaded["box"] == BreakerStatus("box", "closed", 0)


def test_a_breaker_opened_in_one_process_is_seen_and_honoured_by_another(shared: Shared) -> None:
    clock = FakeClock()
    board = BreakerBoard(BreakerPolicy(1, COOLDOWN), clock=clock, store=shared.store)
    board.get("openai").failure("HTTP 503: overloaded")

    other = BreakerBoard(BreakerPolicy(1, COOLDOWN), clock=clock, store=shared.reopen())
    status = other.status("openai")
    assert status.state == "open" and status.last_error == "HTTP 503: overloaded"
    assert status.retry_in_s == COOLDOWN
    assert not other.get("openai").allow()  # skipped without a call
    clock.advance(COOLDOWN)
    assert other.get("openai").allow()  # the probe
    other.get("openai").success()

    third = BreakerBoard(BreakerPolicy(1, COOLDOWN), clock=clock, store=shared.reopen())
    assert third.status("openai").state == "closed"
    assert third.status("never-used").state == "closed"


def test_entries_another_version_wrote_are_left_out(shared: Shared) -> None:
    shared.plant("odd", {"state": "tripped", "failures": 1})
    shared.plant("fine", {"state": "open", "failures": 3, "opened_at": 10.0})
    assert by_provider(shared.store) == {"fine": BreakerStatus("fine", "open", 3, 10.0)}


# which store a router gets ------------------------------------------------------------------


def test_redis_is_used_when_configured_else_the_store(tmp_path: Path, redis_client: Any) -> None:
    fleet = Settings(home=tmp_path, redis_url="redis://127.0.0.1:6379/0")
    assert isinstance(breaker_store(fleet), RedisBreakerStore)
    assert not (tmp_path / "vitco.sqlite").exists()  # Redis configured: the store is not opened

    local = Settings(home=tmp_path)
    store = breaker_store(local)
    assert isinstance(store, StoreBreakerStore)
    assert store.engine is open_engine(local.resolved_database_url)  # the store's own engine
    assert not (tmp_path / "llm-state.sqlite").exists()
