"""A ``RunLease`` on each backend: the store's database (SQLite, PostgreSQL) and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vitco.leases import RunLease
from vitco.leases.redis import RedisRunLease
from vitco.leases.sql import SqlRunLease
from vitco.store import Store, open_database
from vitco.store.db import close_databases


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[RunLease, Store]]:
    """(the lease, the store whose writes it fences): for Redis, the lease in Redis and the
    store on SQLite; otherwise both on the same database."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'vitco.sqlite'}"
    store = Store(open_database(url))
    leases: RunLease
    if request.param == "redis":
        client: Any = request.getfixturevalue("redis_client")
        leases = RedisRunLease(client, prefix=request.getfixturevalue("redis_prefix"))
    else:
        leases = SqlRunLease(store.engine)
    yield leases, store
    close_databases(url)


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def leases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunLease]:
    """The lease alone (no store needed for Redis)."""
    if request.param == "redis":
        client: Any = request.getfixturevalue("redis_client")
        yield RedisRunLease(client, prefix=request.getfixturevalue("redis_prefix"))
        return
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'vitco.sqlite'}"
    yield SqlRunLease(Store(open_database(url)).engine)
    close_databases(url)
