"""The run queue: what a worker should do next (start a run, resume it, answer its gate).

``RunQueue`` is the protocol; ``StoreRunQueue`` keeps the queue in the store's ``run_jobs``
table (the embedded mode, and any single database a fleet shares): a job is taken by an
``UPDATE ... WHERE status = 'queued'`` that only one worker can win. A Redis queue for the
distributed mode implements the same three methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

from sqlalchemy import CursorResult, Update, select, update
from sqlalchemy.orm import Session, sessionmaker

from vitco.store.models import RunJob, utcnow

Action = Literal["start", "resume", "answer"]
"""``start`` a stored run from its beginning, ``resume`` it from its last checkpoint, or
``answer`` its approval gate (the payload is the answer)."""


@dataclass(frozen=True)
class Job:
    id: int
    run_id: str
    action: Action
    payload: dict[str, Any] | None


class RunQueue(Protocol):
    def enqueue(self, run_id: str, action: Action, payload: dict[str, Any] | None = None) -> int:
        """Queue work on a run; returns the job's id."""
        ...

    def take(self, worker: str) -> Job | None:
        """The oldest queued job, now the worker's; None when there is none."""
        ...

    def finish(self, job_id: int, status: str = "done") -> None:
        """Record how a taken job ended (``done``, ``failed``, ``cancelled``)."""
        ...

    def cancel(self, run_id: str) -> int:
        """Drop the queued (not taken) jobs of a run; returns how many."""
        ...


class StoreRunQueue:
    """The queue in the store's database."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def enqueue(self, run_id: str, action: Action, payload: dict[str, Any] | None = None) -> int:
        job = RunJob(run_id=run_id, action=action, payload=payload, created_at=utcnow())
        with self.sessions.begin() as s:
            s.add(job)
            s.flush()
            return job.id

    def take(self, worker: str) -> Job | None:
        while True:
            with self.sessions.begin() as s:
                job = s.scalars(
                    select(RunJob).where(RunJob.status == "queued").order_by(RunJob.id).limit(1)
                ).first()
                if job is None:
                    return None
                won = _changed(
                    s,
                    update(RunJob)
                    .where(RunJob.id == job.id, RunJob.status == "queued")
                    .values(status="taken", worker=worker, taken_at=utcnow()),
                )
                if won:
                    action: Action = job.action  # type: ignore[assignment]
                    return Job(job.id, job.run_id, action, job.payload)
            # another worker took it between the read and the update: look again

    def finish(self, job_id: int, status: str = "done") -> None:
        with self.sessions.begin() as s:
            s.execute(
                update(RunJob)
                .where(RunJob.id == job_id)
                .values(status=status, finished_at=utcnow())
            )

    def cancel(self, run_id: str) -> int:
        with self.sessions.begin() as s:
            return _changed(
                s,
                update(RunJob)
                .where(RunJob.run_id == run_id, RunJob.status == "queued")
                .values(status="cancelled", finished_at=utcnow()),
            )


def _changed(s: Session, statement: Update) -> int:
    """Rows an UPDATE changed."""
    result = cast(CursorResult[Any], s.execute(statement))
    return int(result.rowcount)
