"""Engine, sessions and migrations.

``open_database(url)`` returns an engine with the schema migrated to head: Alembic runs
automatically on first use, so a fresh data dir needs no set-up step. SQLite gets WAL and a busy
timeout because parallel task branches write from several threads.
"""

from __future__ import annotations

import atexit
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
_migrated: set[str] = set()
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def create(url: str) -> Engine:
    """An engine for ``url`` (no migrations)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_database(url: str) -> sessionmaker[Session]:
    """A session factory on a migrated database. One engine (and connection pool) per URL per
    process; migrations run once per URL per process."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite:///"):
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            engine = _engines[url] = create(url)
        if url not in _migrated:
            migrate(engine)
            _migrated.add(url)
    return sessionmaker(engine, expire_on_commit=False)


@atexit.register
def close_databases(url: str | None = None) -> None:
    """Close the pooled connections of one URL's engine (or all of them)."""
    with _lock:
        for key in [url] if url else list(_engines):
            engine = _engines.pop(key, None)
            if engine is not None:
                engine.dispose()
            _migrated.discard(key)
