"""The event feed: every run's events in sequence order, with the tenant and project each
belongs to, for the live streams of ``vitco serve`` (``vitco.api.live``).

An event's sequence number is its row id, the ``seq`` that ``GET /v1/runs/{id}/events``
answers: it grows with every event written, across runs and tenants. ``after`` reads the
next events of every tenant (one query per tick of the one reader a process runs, however
many clients listen); ``scoped`` reads what one subscription missed, scoped to its tenant in
the same query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from vitco.store.models import Event, Project, Run


@dataclass(frozen=True)
class FeedEvent:
    """One event with the tenant and project of its run."""

    seq: int
    tenant_id: str
    project_id: str
    run_id: str
    ts: datetime
    kind: str
    step: str | None
    task: str | None
    message: str
    data: dict[str, Any] | None


def _query() -> Select[Event, str, str]:
    return (
        select(Event, Run.project_id, Project.tenant_id)
        .join(Run, Run.id == Event.run_id)
        .join(Project, Project.id == Run.project_id)
        .order_by(Event.id)
    )


def _rows(session: Session, q: Select[Event, str, str]) -> list[FeedEvent]:
    return [
        FeedEvent(
            seq=e.id,
            tenant_id=tenant_id,
            project_id=project_id,
            run_id=e.run_id,
            ts=e.ts,
            kind=e.kind,
            step=e.step,
            task=e.task,
            message=e.message,
            data=e.data,
        )
        for e, project_id, tenant_id in session.execute(q)
    ]


class EventFeed:
    """Reads of the event feed over a session factory."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def head(self) -> int:
        """The sequence number of the newest event (0 if there is none)."""
        with self.sessions() as s:
            return int(s.scalar(select(func.max(Event.id))) or 0)

    def after(self, seq: int, limit: int) -> list[FeedEvent]:
        """Up to ``limit`` events of every tenant after ``seq``, oldest first."""
        with self.sessions() as s:
            return _rows(s, _query().where(Event.id > seq).limit(limit))

    def scoped(
        self,
        tenant_id: str,
        *,
        since: int,
        upto: int,
        limit: int,
        project_id: str | None = None,
        run_id: str | None = None,
    ) -> list[FeedEvent]:
        """Up to ``limit`` events of the tenant (and of the project or run, if given) after
        ``since`` and up to ``upto`` included, oldest first."""
        q = _query().where(Project.tenant_id == tenant_id, Event.id > since, Event.id <= upto)
        if project_id is not None:
            q = q.where(Run.project_id == project_id)
        if run_id is not None:
            q = q.where(Event.run_id == run_id)
        with self.sessions() as s:
            return _rows(s, q.limit(limit))
