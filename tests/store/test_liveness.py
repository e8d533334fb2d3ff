"""A pooled PostgreSQL connection is lent without a round trip while its socket is quiet, and
one its server ended is still found out and replaced before a statement meets it
(``vitco.store.liveness``), in both pools: the store's (SQLAlchemy) and the checkpoints'
(psycopg_pool)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import text

from vitco.store.db import create

psycopg = pytest.importorskip("psycopg")
pytestmark = pytest.mark.usefixtures("postgres_url")


def _terminate(admin_url: str, pid: int) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    time.sleep(0.2)  # the server's FATAL and its close reach this side


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://").split("?")[0]


def test_quiet_is_true_for_an_idle_connection_and_false_once_its_server_ended_it(
    postgres_url: str,
) -> None:
    from vitco.store.liveness import quiet

    with psycopg.connect(_plain(postgres_url), autocommit=True) as conn:
        pid = conn.info.backend_pid
        assert quiet(conn)
        _terminate(_plain(postgres_url), pid)
        assert not quiet(conn)


def test_the_store_engine_pings_only_a_connection_that_is_not_quiet_and_replaces_a_dead_one(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    real_ping: Any = PGDialect_psycopg.do_ping
    round_trips: list[int] = []

    def round_trip(self: Any, dbapi_connection: Any) -> bool:
        round_trips.append(1)
        return bool(real_ping(self, dbapi_connection))

    monkeypatch.setattr(PGDialect_psycopg, "do_ping", round_trip)
    engine = create(postgres_url)  # wraps the dialect's ping as it is now: the counted one
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        for _ in range(5):  # the same pooled connection, lent again: quiet, no round trip
            with engine.connect() as conn:
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid
        assert round_trips == []
        _terminate(_plain(postgres_url), int(pid))
        with engine.connect() as conn:  # found out at checkout, replaced: no error here
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
        assert round_trips, "the connection the server ended was lent without its check"
    finally:
        engine.dispose()


def test_the_checkpoint_pool_replaces_a_connection_its_server_ended(postgres_url: str) -> None:
    from psycopg_pool import ConnectionPool

    from vitco.store.liveness import check_pooled

    checks: list[int] = []
    original = ConnectionPool.check_connection

    def counted(conn: Any) -> None:
        checks.append(1)
        original(conn)

    plain = _plain(postgres_url)
    with ConnectionPool(
        plain, min_size=1, max_size=1, kwargs={"autocommit": True}, check=check_pooled,
        open=True,
    ) as pool:  # fmt: skip
        ConnectionPool.check_connection = staticmethod(counted)  # type: ignore[method-assign]
        try:
            with pool.connection() as conn:
                pid = conn.info.backend_pid
            for _ in range(5):
                with pool.connection() as conn:
                    assert conn.info.backend_pid == pid
            assert checks == []  # quiet: lent without a round trip
            _terminate(plain, pid)
            with pool.connection() as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
                assert conn.info.backend_pid != pid
            assert checks, "the connection the server ended was lent without its check"
        finally:
            ConnectionPool.check_connection = original  # type: ignore[method-assign]
