"""The model layer's operational state in the store: the response cache, the breakers and the
structured-output mode each provider needs.

All are disposable (deleting every row costs repeated provider calls, a breaker that has
to learn again and one refused request per provider, nothing more), but they live in the
store's schema, under its migrations (``0004_llm_state``, ``0006_metering``), so that there is
one database to version, back up and point a fleet at; with Redis configured the model layer
keeps the first two there instead (see ``vitco.llm.cache`` and ``vitco.llm.breaker``).

Times are epoch seconds as floats, not ``DateTime`` columns: they come from the clock the model
layer is given (tests pass a fake one) and are only compared with it.

The model layer reads and writes these tables with SQLAlchemy Core (one statement a call), not
the ORM; the classes are here so that the tables are declared once, next to the others.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Connection, Float, Index, Insert, Integer, String, Table, Text, delete
from sqlalchemy.orm import Mapped, mapped_column

from vitco.store.models import Base

__all__ = [
    "LLMBreaker",
    "LLMCachedResponse",
    "LLMStructuredMode",
    "breakers_table",
    "cache_table",
    "modes_table",
    "upsert",
]


class LLMCachedResponse(Base):
    """One cached model answer: what is kept of it (content, usage, model) as JSON text."""

    __tablename__ = "llm_response_cache"
    __table_args__ = (Index("ix_llm_response_cache_expires_at", "expires_at"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex
    model: Mapped[str] = mapped_column(String(300))
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)


class LLMBreaker(Base):
    """The last state of one provider's circuit breaker, as any process saw it last."""

    __tablename__ = "llm_breakers"

    provider: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    failures: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)


class LLMStructuredMode(Base):
    """The structured-output mode a provider was found to need (its server refused the ones
    before it; see ``vitco.llm.modes``), and the refusal that showed it."""

    __tablename__ = "llm_structured_modes"

    provider: Mapped[str] = mapped_column(String(100), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[float] = mapped_column(Float)


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


cache_table = _table(LLMCachedResponse)
breakers_table = _table(LLMBreaker)
modes_table = _table(LLMStructuredMode)


@functools.cache
def _upsert_statement(dialect: str, table: Table, key: str) -> Insert | None:
    """``INSERT ... ON CONFLICT (key) DO UPDATE`` for SQLite and PostgreSQL; None elsewhere."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        lite = sqlite_insert(table)
        return lite.on_conflict_do_update(
            index_elements=[key], set_={c: lite.excluded[c] for c in _others(table, key)}
        )
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        pg = pg_insert(table)
        return pg.on_conflict_do_update(
            index_elements=[key], set_={c: pg.excluded[c] for c in _others(table, key)}
        )
    return None


def _others(table: Table, key: str) -> list[str]:
    return [c.name for c in table.c if c.name != key]


def upsert(conn: Connection, table: Table, row: dict[str, Any]) -> None:
    """Write ``row`` (every column of ``table``) over any row with the same primary key."""
    [key] = [c.name for c in table.primary_key.columns]
    statement = _upsert_statement(conn.dialect.name, table, key)
    if statement is not None:
        conn.execute(statement, row)
        return
    # Another dialect: the caller's transaction makes the pair one change.
    conn.execute(delete(table).where(table.c[key] == row[key]))
    conn.execute(table.insert(), row)
