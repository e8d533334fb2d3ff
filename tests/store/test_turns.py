"""The writers of one SQLite file take turns (``vitco.store.turns``): the turn is held for
exactly a write transaction, waited for by other threads and processes, and given back
however the transaction ends."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

import vitco.store.db
from vitco.store.db import create
from vitco.store.turns import WriteTurns, connect


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = create(f"sqlite:///{tmp_path / 'vitco.sqlite'}")
    with made.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    yield made
    made.dispose()


def _lock_file(engine: Engine) -> Path:
    return Path(f"{engine.url.database}.write.lock")


def _free(lock: Path) -> bool:
    """Whether another open file description can take the lock file's lock now."""
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # releases it if taken
    return True


def _turn_is_free(engine: Engine) -> bool:
    return _free(_lock_file(engine))


def test_the_turn_is_held_from_the_first_write_to_the_commit(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT count(*) FROM t")).scalar()
        assert _turn_is_free(engine)  # a read takes no turn
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert not _turn_is_free(engine)
        conn.execute(text("INSERT INTO t VALUES (2)"))  # the same transaction: no second take
        conn.commit()
        assert _turn_is_free(engine)
        conn.execute(text("UPDATE t SET x = x + 1"))
        assert not _turn_is_free(engine)
        conn.rollback()
        assert _turn_is_free(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t ORDER BY x")).scalars().all() == [1, 2]


def test_a_connection_returned_with_its_transaction_open_gives_the_turn_back(
    engine: Engine,
) -> None:
    conn = engine.connect()
    conn.execute(text("INSERT INTO t VALUES (1)"))
    assert not _turn_is_free(engine)
    conn.close()  # the pool rolls it back
    assert _turn_is_free(engine)

    conn = engine.connect()
    conn.execute(text("INSERT INTO t VALUES (2)"))
    conn.invalidate()  # closed under the transaction
    assert _turn_is_free(engine)
    conn.close()
    with engine.connect() as check:
        assert check.execute(text("SELECT count(*) FROM t")).scalar() == 0


def test_a_link_where_the_lock_file_goes_is_refused_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    engine = create(f"sqlite:///{tmp_path / 'vitco.sqlite'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        _lock_file(engine).symlink_to(target)
        with (
            pytest.raises(OperationalError, match="cannot open the write lock"),
            engine.begin() as conn,
        ):
            conn.execute(text("INSERT INTO t VALUES (1)"))
        assert not target.exists()
        _lock_file(engine).unlink()
        with engine.begin() as conn:  # nothing was stored, and the next write goes in
            conn.execute(text("INSERT INTO t VALUES (2)"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT x FROM t")).scalars().all() == [2]
    finally:
        engine.dispose()


def test_a_write_that_fails_before_it_begins_a_transaction_gives_the_turn_back(
    engine: Engine,
) -> None:
    with engine.connect() as conn:
        with pytest.raises(OperationalError, match="no such table"):
            conn.execute(text("INSERT INTO missing VALUES (1)"))
        assert _turn_is_free(engine)
    with engine.begin() as conn:  # and the next writer gets it
        conn.execute(text("INSERT INTO t VALUES (1)"))


def test_a_thread_that_writes_on_two_connections_at_once_is_refused_not_hung(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vitco.store.db, "SQLITE_BUSY_S", 0.2)
    engine = create(f"sqlite:///{tmp_path / 'vitco.sqlite'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        with engine.connect() as first, engine.connect() as second:
            first.execute(text("INSERT INTO t VALUES (1)"))
            with pytest.raises(OperationalError, match="database is locked"):
                second.execute(text("INSERT INTO t VALUES (2)"))
            first.commit()
            second.rollback()
            second.execute(text("INSERT INTO t VALUES (3)"))  # its turn, once the first's ended
            second.commit()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT x FROM t ORDER BY x")).scalars().all() == [1, 3]
    finally:
        engine.dispose()


def test_threads_take_turns(engine: Engine) -> None:
    """Each thread's read-then-write runs alone: no increment is lost, none fails busy."""

    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (0)"))

    def add() -> None:
        for _ in range(25):
            with engine.begin() as conn:
                conn.execute(text("UPDATE t SET x = x + 0"))  # the turn, then the read
                x = conn.execute(text("SELECT x FROM t")).scalar_one()
                conn.execute(text("UPDATE t SET x = :x"), {"x": x + 1})

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalar() == 100


WRITER = """
import sys, time
from sqlalchemy import text
from vitco.store.db import create
from vitco.store.turns import WriteTurns
engine = create(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
with engine.begin() as conn:
    conn.execute(text("INSERT INTO t VALUES (2)"))
print(time.time(), flush=True)
"""


def test_another_process_writes_once_the_holder_has_committed(engine: Engine) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(engine.url)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    ) as child:  # fmt: skip
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "ready"
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            child.stdin.write("go\n")
            child.stdin.flush()
            time.sleep(0.3)
            assert child.poll() is None  # waiting for the turn, not failed
            committed = time.time()
            conn.commit()
        wrote = float(child.stdout.readline())
        assert child.wait(30) == 0
    assert wrote >= committed
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t ORDER BY rowid")).scalars().all() == [1, 2]


def _take_in_child(turns: WriteTurns, done: Event) -> None:
    turns.take(object())  # what the parent held at the fork is the parent's
    done.set()


def test_a_forked_child_does_not_share_its_parents_turn(tmp_path: Path) -> None:
    """``flock`` on an inherited open file description is the parent's own lock, and the
    parent's thread held the in-process lock at the fork: the child must start from free turns
    and open the file again, or it would either write beside the parent or wait forever.
    (SQLite connections themselves must not cross a fork; the turns are tested alone.)"""
    turns = WriteTurns(tmp_path / "vitco.sqlite.write.lock", wait_s=30)
    holder = object()
    turns.take(holder)
    context = multiprocessing.get_context("fork")
    done = context.Event()
    child = context.Process(target=_take_in_child, args=(turns, done))
    child.start()
    try:
        assert not done.wait(0.5)  # the child waits for the parent's turn
        turns.give_back(holder)
        assert done.wait(30)
    finally:
        child.join(30)
    assert child.exitcode == 0


def test_writers_that_take_no_turn_still_wait_in_sqlites_busy_handler(engine: Engine) -> None:
    """Another program's connection knows nothing of the turn; SQLite's busy timeout still
    covers it."""
    other = sqlite3.connect(
        str(engine.url.database), timeout=30, isolation_level=None, check_same_thread=False
    )
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    threading.Timer(0.3, lambda: other.execute("COMMIT")).start()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
    other.close()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t ORDER BY rowid")).scalars().all() == [1, 2]


def test_a_libraries_own_connection_takes_the_same_turns(tmp_path: Path) -> None:
    """``turns.connect``: what LangGraph's checkpointer writes through."""
    path = tmp_path / "checkpoints.sqlite"
    lock = Path(f"{path}.write.lock")
    conn = connect(path, 30, check_same_thread=False)
    conn.execute("CREATE TABLE t (x INTEGER)")
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM t").fetchone()
    assert _free(lock)  # reads take no turn
    cur.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    assert not _free(lock)
    conn.commit()
    assert _free(lock)
    conn.execute("DELETE FROM t")
    assert not _free(lock)
    conn.rollback()
    assert _free(lock)
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        conn.execute("INSERT INTO missing VALUES (1)")
    assert _free(lock)
    conn.execute("INSERT INTO t VALUES (3)")
    conn.close()  # closed under its transaction: rolled back, the turn given back
    assert _free(lock)
    check = sqlite3.connect(path)
    assert check.execute("SELECT x FROM t ORDER BY x").fetchall() == [(1,), (2,)]
    check.close()


def test_a_checkpoint_takes_its_files_turn(tmp_path: Path) -> None:
    """LangGraph's checkpointer writes through ``turns.connect``: while another process holds
    the file's turn its checkpoint waits, and goes in as soon as the turn is given back."""
    from langgraph.checkpoint.base import empty_checkpoint

    from vitco.workflow.checkpoints import _sqlite_saver

    path = tmp_path / "checkpoints.sqlite"
    saver, close = _sqlite_saver(path)
    fd = os.open(f"{path}.write.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another process's turn
        config: Any = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
        done = threading.Event()

        def put() -> None:
            saver.put(config, empty_checkpoint(), {"source": "input", "step": -1}, {})
            done.set()

        writer = threading.Thread(target=put)
        writer.start()
        assert not done.wait(0.5)  # waiting for the turn
        fcntl.flock(fd, fcntl.LOCK_UN)
        assert done.wait(30)
        writer.join()
        assert saver.get_tuple(config) is not None
    finally:
        os.close(fd)
        close()
