"""Counts over the whole store for the metrics (``vitco.observability.StoreCollector``): runs
by status and the run queue's depth. Not scoped to a tenant: they are the operator's, and
carry no id or name."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from vitco.store.models import Run, RunJob


def runs_by_status(sessions: sessionmaker[Session]) -> dict[str, int]:
    """How many runs are in each status (statuses without a run are absent)."""
    with sessions() as s:
        rows = s.execute(select(Run.status, func.count()).group_by(Run.status))
        return {str(status): int(count) for status, count in rows}


def queue_depth(sessions: sessionmaker[Session]) -> int:
    """How many run jobs wait for a worker."""
    with sessions() as s:
        return s.scalar(select(func.count()).where(RunJob.status == "queued")) or 0
