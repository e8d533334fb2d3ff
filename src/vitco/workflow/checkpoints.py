"""Where LangGraph keeps a run's checkpoints, and how runs are configured and locked.

The embedded default is LangGraph's SQLite saver in the data dir. A run's thread id is its run
id. ``run_lock`` makes sure one process at a time drives a run on this machine: the lock is an
``flock`` on a file, so the kernel releases it when the holder dies (even by ``kill -9``) and a
crashed run can be resumed at once.
"""

from __future__ import annotations

import fcntl
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver

from vitco.config import Settings
from vitco.workflow.exceptions import RunBusy


def postgres_conninfo(url: str) -> str | None:
    """The libpq URI of a PostgreSQL SQLAlchemy URL, or None for any other database."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url.removeprefix(prefix)
    return None


@contextmanager
def open_checkpointer(settings: Settings) -> Iterator[Any]:
    """The checkpoint saver for this installation: LangGraph's Postgres saver in the
    database when that is PostgreSQL (the distributed mode), else its SQLite saver on a file
    in the data dir."""
    settings.ensure_dirs()
    conninfo = postgres_conninfo(settings.resolved_database_url)
    if conninfo is not None:
        try:
            from langgraph.checkpoint.postgres import PostgresSaver
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("PostgreSQL checkpoints need: pip install 'vitco[postgres]'") from exc
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        # A pool that checks a connection before lending it, not one connection: after a
        # restart of PostgreSQL the saver reconnects instead of failing every checkpoint, and
        # parallel task branches do not queue on one connection.
        kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
        with ConnectionPool(
            conninfo,
            min_size=1,
            max_size=max(2, settings.max_parallel),
            kwargs=kwargs,
            check=ConnectionPool.check_connection,
            timeout=settings.dependency_wait_s,  # a checkpoint waits for a restart to end
            open=True,
        ) as pool:
            pg = PostgresSaver(pool)  # type: ignore[arg-type]
            pg.setup()
            yield pg
        return
    conn = sqlite3.connect(settings.checkpoints_path, check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver
    finally:
        conn.close()


def run_config(run_id: str, settings: Settings, checkpoint_id: str | None = None) -> Any:
    configurable: dict[str, Any] = {"thread_id": run_id}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {
        "configurable": configurable,
        "recursion_limit": 1000,
        "max_concurrency": settings.max_parallel,
    }


@contextmanager
def run_lock(settings: Settings, run_id: str) -> Iterator[None]:
    """Hold the run for this process; ``RunBusy`` if another live process holds it."""
    locks = settings.home / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with (locks / f"{run_id}.lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunBusy(run_id) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
