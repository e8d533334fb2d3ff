"""The event feed: every run's events in sequence order, with the tenant and project each
belongs to, for the live streams of ``vitco serve`` (``vitco.api.live``).

An event's sequence number is its row id, the ``seq`` that ``GET /v1/runs/{id}/events``
answers: it grows with every event written, across runs and tenants. ``after`` reads the
next events of every tenant (one query per tick of the one reader a process runs, however
many clients listen); ``scoped`` reads what one subscription missed, scoped to its tenant in
the same query.

Every reader that follows the feed by number (the live streams, the outbound webhooks' pump)
takes it through an ``InOrder``: a gap in the numbers is a transaction that has taken its
number and not committed yet (PostgreSQL hands out ids at insert, so two writers can commit
out of order) or one that rolled back, and a cursor that moved past it would never see the
event that commits late. The reader holds back until the gap fills, or ``gap_s`` passes and the
number counts as rolled back. SQLite writes one transaction at a time: its numbers have no gaps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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


GAP_S = 3.0  # how long a gap in the numbers holds a reader back


class InOrder:
    """The numbers of the feed taken as one contiguous sequence (see the module docstring)."""

    def __init__(
        self,
        seen: int = 0,
        *,
        gap_s: float = GAP_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seen = seen  # every number up to it has been taken (or has rolled back)
        self.gap_s, self.clock = gap_s, clock
        self._gap_since: float | None = None

    def take(self, seq: int) -> bool:
        """Whether ``seq``, the next number read (in order, after ``seen``), is taken now: it
        follows ``seen``, or the gap before it has been open for ``gap_s``."""
        if seq != self.seen + 1:
            now = self.clock()
            if self._gap_since is None:
                self._gap_since = now
            if now - self._gap_since < self.gap_s:
                return False
        self._gap_since = None
        self.seen = seq
        return True

    def restart(self, seen: int) -> None:
        """Follow the feed from ``seen`` on, with no gap pending."""
        self.seen, self._gap_since = seen, None


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

    def numbers_after(self, seq: int, limit: int) -> list[int]:
        """Up to ``limit`` sequence numbers after ``seq``, in order (nothing else read)."""
        q = select(Event.id).where(Event.id > seq).order_by(Event.id).limit(limit)
        with self.sessions() as s:
            return list(s.scalars(q))

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
