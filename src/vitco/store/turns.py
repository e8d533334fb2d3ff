"""The writers of one SQLite file take turns through a lock that wakes the next one at once.

SQLite lets one connection write at a time. The others wait in its busy handler, which sleeps
in steps (1, 2, 5, 10, 15, 20, 25 ... ms) and looks again, so a writer that finds the lock held
sleeps past its release; Python's ``sqlite3`` offers no other handler (``sqlite3_busy_handler``
is not exposed) and no library adds one to a pysqlite connection. Under the webhook bench's load
(``vitco serve`` accepting, two ``vitco worker``s executing) the workers' threads spent most of
their time in that sleep, the write lock free, and the machine's two cores ran 1.45 busy.

So each write transaction on an engine's SQLite file first takes the file's *turn*: a
``threading.Lock`` among the process's threads, then ``flock`` on ``<db file>.write.lock`` among
processes. A waiter blocks in the kernel (or in the interpreter's lock, without the GIL) and
wakes as soon as the holder commits or rolls back. The turn is taken where pysqlite itself
begins a transaction (before an INSERT, UPDATE, DELETE or REPLACE outside one) and given back
right after the commit or rollback, or when the connection is closed or invalidated. SQLite's
own busy timeout stays, for writers that take no turn (another program, a raw connection).

A library that brings its own pysqlite connection (LangGraph's SQLite checkpointer, whose file
two ``vitco worker``s write at once) gets the same through ``connect``: a connection and
cursor of this module's classes, which take the turn in ``execute`` and give it back in
``commit``, ``rollback`` and ``close``.

A thread that already holds the turn on one connection and writes on another would wait for
itself: the in-process lock gives up after SQLite's busy timeout and raises what SQLite would
have ("database is locked"). A forked child starts with the turns free and opens its own lock
file description: ``flock`` on an inherited one would be the parent's lock, and a thread of the
parent may have held the in-process lock at the fork.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, event

T = TypeVar("T")

_BEGINS = ("INSERT", "UPDATE", "DELETE", "REPLACE")
"""The statements before which pysqlite begins a transaction (its legacy isolation mode)."""


def _begins_transaction(dbapi_conn: Any, statement: str) -> bool:
    return not dbapi_conn.in_transaction and statement.lstrip()[:7].upper().startswith(_BEGINS)


class WriteTurns:
    """The turns of one SQLite file's writers in this process (see the module docstring)."""

    def __init__(self, path: Path, wait_s: float) -> None:
        self.path = path
        self.wait_s = wait_s
        self._reset()
        _ALL.add(self)

    def _reset(self) -> None:
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._holder: int | None = None  # id() of the sqlite3 connection holding the turn

    def _lock_fd(self) -> int:
        if self._fd is None:
            # The lock file stays: removing it would let two processes hold "the" lock.
            # Never through a link: the data dir is the host's, a link in it is not.
            flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
            try:
                self._fd = os.open(self.path, flags, 0o600)
            except OSError as exc:
                raise sqlite3.OperationalError(
                    f"cannot open the write lock {self.path}: {exc.strerror}"
                ) from exc
        return self._fd

    def take(self, dbapi_conn: Any) -> None:
        """Take the turn for ``dbapi_conn`` (which is about to begin a write transaction)."""
        if not self._threads.acquire(timeout=self.wait_s):
            raise sqlite3.OperationalError("database is locked")
        try:
            fcntl.flock(self._lock_fd(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        self._holder = id(dbapi_conn)

    def running(self, dbapi_conn: Any, statement: str, run: Callable[[], T]) -> T:
        """``run()``, the execution of ``statement`` on ``dbapi_conn``, after taking the turn
        if the statement begins a write transaction; a statement that fails before it began
        one gives the turn back."""
        if not _begins_transaction(dbapi_conn, statement):
            return run()
        self.take(dbapi_conn)
        try:
            return run()
        except BaseException:
            if not dbapi_conn.in_transaction:
                self.give_back(dbapi_conn)
            raise

    def give_back(self, dbapi_conn: Any) -> None:
        """Give the turn back if ``dbapi_conn`` holds it (its transaction has ended)."""
        if self._holder != id(dbapi_conn):
            return
        self._holder = None
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()


_ALL: weakref.WeakSet[WriteTurns] = weakref.WeakSet()


def _forked() -> None:
    for turns in _ALL:
        turns._reset()  # the inherited descriptor stays open: closing it would unlock the parent


os.register_at_fork(after_in_child=_forked)


def _raw(conn: Any) -> Any:
    """The sqlite3 connection behind a pool's proxy (or ``conn`` itself)."""
    return getattr(conn, "dbapi_connection", conn)


def take_turns(engine: Engine, path: Path, wait_s: float) -> None:
    """Make the writers of ``engine`` (on the SQLite file ``path``) take turns."""
    turns = WriteTurns(Path(f"{path}.write.lock"), wait_s)
    dialect: Any = engine.dialect  # this engine's own instance: no other engine sees it

    def executing(method: Any) -> Any:
        def execute(cursor: Any, statement: str, *args: Any, **kwargs: Any) -> Any:
            return turns.running(
                cursor.connection, statement, lambda: method(cursor, statement, *args, **kwargs)
            )

        return execute

    def ending(method: Any) -> Any:
        def end(conn: Any) -> None:
            try:
                method(conn)
            finally:
                turns.give_back(_raw(conn))

        return end

    dialect.do_execute = executing(dialect.do_execute)
    dialect.do_executemany = executing(dialect.do_executemany)
    dialect.do_execute_no_params = executing(dialect.do_execute_no_params)
    dialect.do_commit = ending(dialect.do_commit)
    dialect.do_rollback = ending(dialect.do_rollback)

    def dropped(dbapi_conn: Any, *_: Any) -> None:
        turns.give_back(dbapi_conn)

    for name in ("close", "invalidate", "soft_invalidate", "close_detached"):
        event.listen(engine, name, dropped)


class _TurnCursor(sqlite3.Cursor):
    """A cursor of a ``_TurnConnection``: a statement that begins a write transaction takes
    the connection's turn first."""

    connection: _TurnConnection

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        run = super().execute
        return self.connection.turns.running(self.connection, sql, lambda: run(sql, parameters))

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        run = super().executemany
        return self.connection.turns.running(self.connection, sql, lambda: run(sql, parameters))


class _TurnConnection(sqlite3.Connection):
    """A pysqlite connection whose write transactions take turns (``connect``)."""

    turns: WriteTurns

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _TurnCursor)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        return self.cursor().executemany(sql, parameters)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.turns.give_back(self)

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.turns.give_back(self)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.turns.give_back(self)


def connect(path: Path, wait_s: float, **kwargs: Any) -> sqlite3.Connection:
    """A pysqlite connection to the file ``path`` (``kwargs``: ``sqlite3.connect``'s) whose
    write transactions take the file's turns, as an engine's of ``take_turns`` do."""
    conn = sqlite3.connect(path, factory=_TurnConnection, **kwargs)
    conn.turns = WriteTurns(Path(f"{path}.write.lock"), wait_s)
    return conn
