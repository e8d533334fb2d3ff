"""The model layer's own small SQLite file: the response cache and the breakers' state.

Why not tables in the store: both are disposable operational state, not records. The cache is
large and churns (every call writes, TTL expiry deletes), shared by all projects and tenants,
and in the distributed setup it lives in Redis, not in PostgreSQL; keeping it out of the store
keeps the store's migrations, backups and size about the business. Deleting this file is
always safe: the next call just asks a provider again. The breakers' state is here so that
``vitco models list`` in another terminal sees a provider the running ``vitco run`` gave up on.

One connection per file, serialised by a lock (the router is shared by the threads of
parallel task branches); WAL and a busy timeout let several processes share the file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["LocalDB", "local_db_path"]

FILE_NAME = "llm-state.sqlite"


def local_db_path(home: Path) -> Path:
    """Where the file lives in a data dir."""
    return home / FILE_NAME


class LocalDB:
    """A thread-safe SQLite connection with a schema made on first use."""

    def __init__(self, path: Path, schema: Sequence[str] = ()) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            path, check_same_thread=False, timeout=30, isolation_level=None
        )
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA busy_timeout=30000")
            # No fsync per write: losing the last entries to a power cut costs a repeated call.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            for statement in schema:
                self._conn.execute(statement)

    def ensure(self, statements: Sequence[str]) -> None:
        """Run ``CREATE ... IF NOT EXISTS`` statements (each user of the file brings its own)."""
        with self._lock:
            for statement in statements:
                self._conn.execute(statement)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; return its rows (empty for writes)."""
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
