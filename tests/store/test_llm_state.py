"""The model layer's tables in the store (migration 0004) and the upsert its writes use, on
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect, select, text

from vitco.store import Store, open_database
from vitco.store.db import MIGRATIONS, open_engine
from vitco.store.llm_state import breakers_table, cache_table, upsert

LLM_TABLES = {"llm_response_cache", "llm_breakers"}


def _alembic(engine: Engine, verb: str, revision: str) -> None:
    """Drive alembic as store/db.py's ``migrate`` does, to a given revision."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, verb)(cfg, revision)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The store's engine, its schema at head."""
    open_database(database_url)
    yield open_engine(database_url)


def _entry(key: str, **values: Any) -> dict[str, Any]:
    row = {"key": key, "model": "p:m", "response": "{}", "created_at": 1.0, "expires_at": 2.0}
    return row | values


def test_migration_0004_adds_the_tables_and_downgrades_without_touching_the_rest(
    database_url: str, engine: Engine
) -> None:
    store = Store(open_database(database_url))
    project = store.create_project("kept", "/r")
    with engine.begin() as conn:
        upsert(conn, cache_table, _entry("k"))
    assert set(inspect(engine).get_table_names()) >= LLM_TABLES
    indexes = {i["name"] for i in inspect(engine).get_indexes("llm_response_cache")}
    assert "ix_llm_response_cache_expires_at" in indexes

    _alembic(engine, "downgrade", "0003")
    assert not set(inspect(engine).get_table_names()) & LLM_TABLES
    with engine.connect() as conn:  # the schema of 0003 (the models are at head)
        assert conn.execute(text("SELECT id FROM projects")).scalars().all() == [project.id]

    _alembic(engine, "upgrade", "head")
    assert set(inspect(engine).get_table_names()) >= LLM_TABLES
    with engine.connect() as conn:  # the disposable state starts over
        assert conn.execute(text("SELECT COUNT(*) FROM llm_response_cache")).scalar_one() == 0
    assert [p.id for p in store.projects()] == [project.id]


@pytest.mark.parametrize("dialect_statement", [True, False], ids=["on-conflict", "delete-insert"])
def test_upsert_writes_a_row_or_replaces_the_one_with_its_key(
    engine: Engine, dialect_statement: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not dialect_statement:  # what a database without ON CONFLICT gets
        monkeypatch.setattr("vitco.store.llm_state._upsert_statement", lambda *_: None)
    with engine.begin() as conn:
        upsert(conn, cache_table, _entry("a"))
        upsert(conn, cache_table, _entry("b"))
    with engine.begin() as conn:
        upsert(conn, cache_table, _entry("a", response='{"new": 1}', expires_at=9.0))
        breaker = {"provider": "openai", "state": "open", "failures": 5, "opened_at": 3.0}
        upsert(conn, breakers_table, breaker | {"last_error": "x", "updated_at": 3.0})
        upsert(conn, breakers_table, breaker | {"last_error": "y", "updated_at": 4.0})

    with engine.connect() as conn:
        cached = conn.execute(
            select(cache_table.c.key, cache_table.c.response, cache_table.c.expires_at).order_by(
                cache_table.c.key
            )
        ).all()
        breakers = conn.execute(
            select(breakers_table.c.provider, breakers_table.c.last_error)
        ).all()
    assert [tuple(r) for r in cached] == [("a", '{"new": 1}', 9.0), ("b", "{}", 2.0)]
    assert [tuple(r) for r in breakers] == [("openai", "y")]
