"""Retention: prune a finished run's checkpoints down to its final state.

Every step writes a checkpoint, so a long run leaves many (LangGraph users report gigabytes).
A run keeps all of them while it can still be resumed or forked usefully: until it is delivered
and ``checkpoint_days`` have passed. Then ``vitco gc`` keeps only the latest checkpoint of the
run's own graph and drops its task sub-flows' checkpoints and pending writes. LangGraph's SQLite
saver has no prune (its Postgres saver does, and is used), so for SQLite it is two deletes here.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from vitco.config import Settings
from vitco.store import Store
from vitco.workflow.checkpoints import open_checkpointer, postgres_conninfo

PRUNABLE = ("delivered",)


def _prune_sqlite(conn: sqlite3.Connection, thread_id: str) -> int:
    """Keep the newest root checkpoint of ``thread_id``; returns how many rows were deleted."""
    latest = conn.execute(
        "SELECT MAX(checkpoint_id) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''",
        (thread_id,),
    ).fetchone()[0]
    if latest is None:
        return 0
    deleted = conn.execute(
        "DELETE FROM checkpoints WHERE thread_id = ? "
        "AND NOT (checkpoint_ns = '' AND checkpoint_id = ?)",
        (thread_id, latest),
    ).rowcount
    deleted += conn.execute(
        "DELETE FROM writes WHERE thread_id = ? AND NOT (checkpoint_ns = '' AND checkpoint_id = ?)",
        (thread_id, latest),
    ).rowcount
    conn.execute(
        "UPDATE checkpoints SET parent_checkpoint_id = NULL WHERE thread_id = ?", (thread_id,)
    )
    return deleted


# What pruning a thread would delete: every checkpoint and pending write except those of its
# newest root checkpoint; (rows, bytes of their stored data). ``{size}`` is the dialect's size
# function, ``{p}`` its placeholder.
_MEASURE = """
SELECT COUNT(*), COALESCE(SUM({size}(checkpoint) + {size}(metadata)), 0) FROM checkpoints
WHERE thread_id = {p} AND NOT (checkpoint_ns = '' AND checkpoint_id = (
    SELECT MAX(checkpoint_id) FROM checkpoints WHERE thread_id = {p} AND checkpoint_ns = ''))
UNION ALL
SELECT COUNT(*), COALESCE(SUM({size}({value})), 0) FROM {writes}
WHERE thread_id = {p} AND NOT (checkpoint_ns = '' AND checkpoint_id = (
    SELECT MAX(checkpoint_id) FROM checkpoints WHERE thread_id = {p} AND checkpoint_ns = ''))
"""
_SQLITE_MEASURE = _MEASURE.format(size="LENGTH", p="?", value="value", writes="writes")
_POSTGRES_MEASURE = _MEASURE.format(
    size="pg_column_size", p="%s", value="blob", writes="checkpoint_writes"
)


def _measure(conn: Any, sql: str, thread_id: str) -> tuple[int, int]:
    rows = conn.execute(sql, (thread_id,) * 4).fetchall()
    return sum(int(r[0]) for r in rows), sum(int(r[1]) for r in rows)


def due_runs(store: Store, keep: timedelta) -> list[str]:
    """The runs delivered at least ``keep`` ago."""
    now = datetime.now(UTC)
    return [
        run.id
        for run in store.runs()
        if run.status in PRUNABLE and run.finished_at is not None and now - run.finished_at >= keep
    ]


def collect(
    settings: Settings, store: Store, *, days: float | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Prune the checkpoints of runs delivered more than ``days`` ago (default: the setting).

    Returns the runs, ``rows`` (checkpoints and pending writes that go, or would go with
    ``dry_run``), ``data_bytes`` (the size of what they store) and, on SQLite, the file's size
    before and after (a dry run changes nothing, so they are equal).
    """
    due = due_runs(store, timedelta(days=settings.checkpoint_days if days is None else days))
    conninfo = postgres_conninfo(settings.resolved_database_url)
    if conninfo is not None:
        import psycopg

        sizes = []
        if due:
            with psycopg.connect(conninfo) as pg:
                sizes = [_measure(pg, _POSTGRES_MEASURE, run_id) for run_id in due]
        if due and not dry_run:
            with open_checkpointer(settings) as saver:
                saver.prune(due, strategy="keep_latest")  # LangGraph's own, for Postgres
        return _result(due, sizes, dry_run)
    path = settings.checkpoints_path
    size_before = path.stat().st_size if path.exists() else 0
    sizes = []
    if due and path.exists():
        conn = sqlite3.connect(path)
        try:
            sizes = [_measure(conn, _SQLITE_MEASURE, run_id) for run_id in due]
            if not dry_run:
                with conn:
                    for run_id in due:
                        _prune_sqlite(conn, run_id)
                conn.execute("VACUUM")
        finally:
            conn.close()
    size_after = path.stat().st_size if path.exists() else 0
    return _result(due, sizes, dry_run) | {"bytes_before": size_before, "bytes_after": size_after}


def _result(due: list[str], sizes: list[tuple[int, int]], dry_run: bool) -> dict[str, Any]:
    return {
        "runs": due,
        "rows": sum(rows for rows, _ in sizes),
        "data_bytes": sum(size for _, size in sizes),
        "dry_run": dry_run,
    }
