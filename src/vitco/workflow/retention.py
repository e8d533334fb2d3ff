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


def collect(
    settings: Settings, store: Store, *, days: float | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Prune the checkpoints of runs delivered more than ``days`` ago (default: the setting)."""
    keep = timedelta(days=settings.checkpoint_days if days is None else days)
    now = datetime.now(UTC)
    due = []
    for run in store.runs():
        finished = run.finished_at
        if run.status not in PRUNABLE or finished is None:
            continue
        if now - finished >= keep:
            due.append(run.id)
    if postgres_conninfo(settings.resolved_database_url) is not None:
        if due and not dry_run:
            with open_checkpointer(settings) as saver:
                saver.prune(due, strategy="keep_latest")  # LangGraph's own, for Postgres
        return {"runs": due, "rows_deleted": None, "dry_run": dry_run}
    path = settings.checkpoints_path
    size_before = path.stat().st_size if path.exists() else 0
    rows = 0
    if due and not dry_run and path.exists():
        conn = sqlite3.connect(path)
        try:
            with conn:
                rows = sum(_prune_sqlite(conn, run_id) for run_id in due)
            conn.execute("VACUUM")
        finally:
            conn.close()
    size_after = path.stat().st_size if path.exists() else 0
    return {
        "runs": due,
        "rows_deleted": rows,
        "bytes_before": size_before,
        "bytes_after": size_after,
        "dry_run": dry_run,
    }
