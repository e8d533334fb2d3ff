"""The cheap check of the schema's revision agrees with Alembic's."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vitco.config import Settings
from vitco.store import open_store
from vitco.store.db import _enter_wal, _scripts, create, newest_revision


def test_the_file_named_head_is_alembics_head() -> None:
    head, known = _scripts()
    assert newest_revision() == head
    assert len(known) == len(
        list(Path(__file__).parents[2].glob("src/vitco/store/migrations/versions/0*.py"))
    )


def test_opening_a_store_at_head_imports_no_alembic(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    open_store(settings).projects()  # migrated here, in this process
    code = (
        "import sys; from vitco.config import Settings; from vitco.store import open_store; "
        f"open_store(Settings(home={str(settings.home)!r})).projects(); "
        "print('alembic' in sys.modules)"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "False"


def test_a_fresh_sqlite_file_enters_wal_while_another_connection_writes(tmp_path: Path) -> None:
    """SQLite refuses the switch to WAL at once, without its busy handler, while another
    connection holds a write lock on a database still in rollback mode (what processes opening
    one fresh data dir together meet): the connect waits for the lock instead of failing."""
    db_file = tmp_path / "vitco.sqlite"
    writer = sqlite3.connect(db_file, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    released = threading.Timer(0.3, lambda: writer.execute("COMMIT"))
    released.start()
    engine = create(f"sqlite:///{db_file}")
    try:
        started = time.monotonic()
        with engine.connect() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            rows = conn.exec_driver_sql("SELECT x FROM t").scalars().all()
        waited = time.monotonic() - started
    finally:
        released.join()
        engine.dispose()
        writer.close()
    assert mode == "wal"
    assert rows == [1]  # it connected after the writer committed, not before
    assert waited >= 0.2


def test_the_wal_switch_still_fails_on_a_lock_that_is_never_released(tmp_path: Path) -> None:
    db_file = tmp_path / "vitco.sqlite"
    writer = sqlite3.connect(db_file, isolation_level=None)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("BEGIN IMMEDIATE")
    reader = sqlite3.connect(db_file, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            _enter_wal(reader.cursor(), wait_s=0.2)
    finally:
        reader.close()
        writer.close()
