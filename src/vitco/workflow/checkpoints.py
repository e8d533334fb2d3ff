"""Where LangGraph keeps a run's checkpoints, and how runs are configured and locked.

The embedded default is LangGraph's SQLite saver in the data dir, one per file and process,
shared by the runs the process executes (the saver serialises its own use of the connection;
opening and closing one per run cost more than a trivial run's whole graph: closing the last
connection checkpoints SQLite's write-ahead log). A run's thread id is its run id.
``run_lock`` makes sure one process at a time drives a run, on this host or any other: it
holds the run's lease (``vitco.leases``: a row in the store's database, or Redis) renewed on a
thread, raises the run's fence to the lease's token and fences the store's writes for the run
with it; when the leases are rows of the store's, the fence and the run's start are written in
the lease's transaction, and the run's ending gives the lease back in its own
(``give_back_within``). A holder that dies stops renewing and loses the run after
``lease_ttl_s``; one on this machine known dead (``kill -9``) is taken over at once.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver
from sqlalchemy import Connection, Engine

from vitco.config import Settings
from vitco.leases import Held, Lease, RunLease, take
from vitco.leases.sql import SqlRunLease
from vitco.store import FenceRefused, Store
from vitco.store.db import SQLITE_BUSY_S
from vitco.store.turns import connect
from vitco.workflow.exceptions import RunBusy


def postgres_conninfo(url: str) -> str | None:
    """The libpq URI of a PostgreSQL SQLAlchemy URL, or None for any other database."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url.removeprefix(prefix)
    return None


# The first 8 bytes of sha256(b"vitco.checkpoints.setup") as a signed bigint: the advisory
# lock under which a process creates or migrates LangGraph's checkpoint tables.
SETUP_LOCK_KEY = 445603715412161143
_set_up: set[str] = set()
_set_up_lock = threading.Lock()


def _setup_once(pool: Any, saver: Any, conninfo: str) -> None:
    """``saver.setup()`` once per process and database, under an advisory lock: LangGraph's
    setup creates its tables with plain ``CREATE TABLE IF NOT EXISTS``, and workers starting
    their first runs on a fresh database at once otherwise collide on the catalog
    (``UniqueViolation`` on ``pg_type``: three of four concurrent setups failed here)."""
    with _set_up_lock:
        if conninfo in _set_up:
            return
        with pool.connection() as conn:
            # tried, not waited on: a statement blocked on the lock would hold a snapshot,
            # and the holder's CREATE INDEX CONCURRENTLY waits for every such one (deadlock)
            while not conn.execute(
                "SELECT pg_try_advisory_lock(%s) AS taken", (SETUP_LOCK_KEY,)
            ).fetchone()["taken"]:
                time.sleep(0.05)
            try:
                saver.setup()
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_KEY,))
        _set_up.add(conninfo)


@contextmanager
def open_checkpointer(settings: Settings) -> Iterator[Any]:
    """The checkpoint saver for this installation: LangGraph's Postgres saver in the
    database when that is PostgreSQL (the distributed mode), else its SQLite saver on a file
    in the data dir (made with its folders first, when the file is not there yet: once, not
    at every run)."""
    conninfo = postgres_conninfo(settings.resolved_database_url)
    if conninfo is not None:
        try:
            from langgraph.checkpoint.postgres import PostgresSaver
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("PostgreSQL checkpoints need: pip install 'vitco[postgres]'") from exc
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        from vitco.store.liveness import check_pooled

        # A pool that checks a connection before lending it (without a round trip while its
        # socket is quiet: ``store.liveness``), not one connection: after a
        # restart of PostgreSQL the saver reconnects instead of failing every checkpoint, and
        # parallel task branches do not queue on one connection. One pool per process and
        # database, shared by its runs (a pool per run connected and disconnected every time:
        # a new server process each), as large as the runs a worker executes at once need.
        size = max(2, settings.max_parallel) * settings.worker_concurrency
        timeout = settings.dependency_wait_s  # a checkpoint waits for a restart to end

        def connect() -> tuple[Any, Callable[[], None]]:
            kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
            pool = ConnectionPool(
                conninfo, min_size=1, max_size=size, kwargs=kwargs,
                check=check_pooled, timeout=timeout, open=True,
            )  # fmt: skip
            pg = PostgresSaver(pool)
            try:
                _setup_once(pool, pg, conninfo)
            except BaseException:
                pool.close()
                raise
            return pg, pool.close

        with _SAVERS.lend((conninfo, size, timeout), connect) as saver:
            yield saver
        return
    with _SAVERS.borrow(settings.checkpoints_path, settings.ensure_dirs) as saver:
        yield saver


def _sqlite_key(path: os.PathLike[str], prepare: Callable[[], None]) -> tuple[str, int, int]:
    """A SQLite file by path and inode: a file removed and made again is another one.
    ``prepare``: what to do before the file is made (its folder)."""
    if not os.path.exists(path):
        prepare()
        sqlite3.connect(path).close()
    st = os.stat(path)
    return (os.fspath(path), st.st_ino, st.st_dev)


def _sqlite_saver(path: os.PathLike[str]) -> tuple[SqliteSaver, Callable[[], None]]:
    # its writes take turns with the other processes' on the file (``vitco.store.turns``)
    saver = SqliteSaver(connect(Path(path), SQLITE_BUSY_S, check_same_thread=False))
    saver.setup()  # the write-ahead log (WAL)
    # The store's durability (``vitco.store.db``): a commit survives the process (kill -9) at
    # once and the OS once the WAL is checkpointed. SQLite's default, FULL, syncs the WAL to
    # disk at every commit: ~4.4 ms a commit on this kind of machine against 0.014 ms, under
    # the lock the saver serialises its connection with, so the runs of a process took turns
    # waiting for the disk.
    saver.conn.execute("PRAGMA synchronous=NORMAL")
    return saver, saver.conn.close


class _SaverPool:
    """The savers this process has open (a SQLite file's, a PostgreSQL database's pool), by
    key; the least recently used idle ones beyond ``keep`` are closed, so a process that
    serves many data dirs or databases (a test session) holds few open."""

    def __init__(self, keep: int = 4) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._open: OrderedDict[Hashable, tuple[Any, Callable[[], None], list[int]]] = OrderedDict()

    @contextmanager
    def borrow(
        self, path: os.PathLike[str], prepare: Callable[[], None] = lambda: None
    ) -> Iterator[SqliteSaver]:
        """The saver of a SQLite file (``prepare``: what to do before the file is made)."""
        with self.lend(_sqlite_key(path, prepare), lambda: _sqlite_saver(path)) as saver:
            yield saver

    @contextmanager
    def lend(
        self, key: Hashable, make: Callable[[], tuple[Any, Callable[[], None]]]
    ) -> Iterator[Any]:
        """The saver of ``key``, made by ``make`` (the saver and how to close it) if none is
        open."""
        with self._lock:
            entry = self._open.get(key)
            if entry is None:
                entry = self._open[key] = (*make(), [0])
            self._open.move_to_end(key)
            entry[2][0] += 1
        try:
            yield entry[0]
        finally:
            with self._lock:
                entry[2][0] -= 1
                self._trim()

    def _trim(self) -> None:
        idle = [k for k, (_, _, users) in self._open.items() if users[0] == 0]
        for key in idle[: max(0, len(self._open) - self.keep)]:
            _, close, _ = self._open.pop(key)
            close()


_SAVERS = _SaverPool()


def run_config(run_id: str, settings: Settings, checkpoint_id: str | None = None) -> Any:
    configurable: dict[str, Any] = {"thread_id": run_id}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {
        "configurable": configurable,
        "recursion_limit": 1000,
        "max_concurrency": settings.max_parallel,
    }


_LEASES: weakref.WeakValueDictionary[int, SqlRunLease] = weakref.WeakValueDictionary()
"""The default lease backend of each engine (by id) while some lease of it is held or due
for renewal (the heartbeat holds it; the backend holds its engine, so the id is its own)."""


def _store_leases(engine: Engine) -> SqlRunLease:
    """The leases in the store's database, one backend per engine while in use: a backend's
    leases are renewed by its heartbeat thread (``vitco.leases.hold``), one per backend."""
    with _set_up_lock:
        leases = _LEASES.get(id(engine))
        if leases is None or leases.engine is not engine:
            leases = _LEASES[id(engine)] = SqlRunLease(engine)
        return leases


@contextmanager
def run_lock(
    settings: Settings,
    store: Store,
    run_id: str,
    *,
    leases: RunLease | None = None,
    on_lost: Callable[[], None] = lambda: None,
    then: Callable[[Connection], None] | None = None,
) -> Iterator[Held]:
    """Hold ``run_id`` for this process (see the module docstring): ``RunBusy`` if another
    live holder has it. ``leases``: the backend (default: the store's database); ``on_lost``
    is called from the renewal thread if the lease is lost while the block runs. ``then``:
    the first writes of the holder (the run's start), in the transaction that takes the
    lease when the leases are the store's own, else in one of their own once the fence is
    raised."""
    leases = leases if leases is not None else _store_leases(store.engine)
    ttl = settings.lease_ttl_s
    # the store's own leases: the fence and ``then`` are written in the lease's transaction
    # (two commits fewer a run; a refused fence leaves the lease untaken, the run unstarted)
    acquire = None
    own = _own(leases, store)
    if own is not None:

        def fence_and_start(conn: Connection, lease: Lease) -> None:
            store.raise_fence(run_id, lease.token, conn)
            if then is not None:
                then(conn)

        acquire = functools.partial(own.acquire, then=fence_and_start)
    try:
        lease = take(leases, run_id, ttl, local_takeover=settings.lease_local_takeover,
                     acquire=acquire)  # fmt: skip
    except FenceRefused as exc:  # a newer token drove the run: it is not ours to drive
        raise RunBusy(run_id, leases.inspect(run_id)) from exc
    if lease is None:
        raise RunBusy(run_id, leases.inspect(run_id))
    held = Held(leases, lease, ttl, on_lost=on_lost)
    try:
        if acquire is None:  # leases elsewhere (Redis): the fence in a transaction of its own
            try:
                store.raise_fence(run_id, lease.token)
            except FenceRefused as exc:  # as above
                raise RunBusy(run_id, leases.inspect(run_id)) from exc
        with store.fenced(run_id, lease.token):
            if acquire is None and then is not None:
                with store.engine.begin() as conn:
                    then(conn)
            yield held
    finally:
        held.close()


def _own(leases: RunLease, store: Store) -> SqlRunLease | None:
    """``leases`` if they are rows of the store's own database (writable in its
    transactions), else None."""
    return leases if isinstance(leases, SqlRunLease) and leases.engine is store.engine else None


def give_back_within(held: Held, store: Store) -> Callable[[Connection], None] | None:
    """The writes that give ``held``'s lease back inside a transaction of the store's (the one
    that records how the run ended: one commit fewer a run), when the leases are the store's
    own and the lease is still held; renewals stop now. None otherwise (``run_lock`` gives
    it back as it ends). Once the transaction has committed, ``held.given_back()``."""
    leases = _own(held.leases, store)
    if leases is None:
        return None
    lease = held.stop_renewing()
    if lease is None:
        return None
    own, given = leases, lease

    def give_back(conn: Connection) -> None:
        own.release_in(conn, given)

    return give_back
