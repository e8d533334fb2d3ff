"""The run rows of ``Store``: reading a run with its project, and changing a run together
with the event that says so.

A run's executor reads its run and project once (one query, ``run_with_project``) and changes
the run twice: when it starts and when it ends. Each change and its ``run`` event go in one
transaction (``update_run(..., event=...)``): a trivial run is dominated by its commits, and a
status without the event that announces it (or the reverse) is never seen by a reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from vitco.store.exceptions import NotFound
from vitco.store.models import Event, Project, Run, utcnow

if TYPE_CHECKING:
    from vitco.events.protocol import EventBus
    from vitco.observability.redaction import Redactor

TERMINAL = frozenset({"delivered", "needs_attention", "failed"})

_INSERT_EVENT = insert(Event)


class RunRows:
    """The run part of ``Store`` (which sets ``sessions``, ``bus``, ``redactor`` and the
    fencing of ``vitco.store.fences``)."""

    sessions: sessionmaker[Session]
    bus: EventBus | None
    redactor: Redactor | None
    _fence: Callable[[Any, Iterable[str | None]], None]  # vitco.store.fences.Fences'

    def run_with_project(self, run_id: str) -> tuple[Run, Project]:
        """A run and its project, in one query."""
        with self.sessions() as s:
            row = s.execute(
                select(Run, Project)
                .join(Project, Project.id == Run.project_id)
                .where(Run.id == run_id)
            ).first()
        if row is None:
            raise NotFound("run", run_id)
        return row[0], row[1]

    def run_owner(self, run_id: str) -> tuple[str, str]:
        """The project and tenant of a run (its log lines carry them), in one query."""
        with self.sessions() as s:
            row = s.execute(
                select(Project.id, Project.tenant_id)
                .join(Run, Run.project_id == Project.id)
                .where(Run.id == run_id)
            ).first()
        if row is None:
            raise NotFound("run", run_id)
        return str(row[0]), str(row[1])

    def update_run(
        self, run_id: str, *, event: tuple[str, str] | None = None, **fields: Any
    ) -> Run:
        """Change the run's ``fields`` (``started_at`` is set when it first turns
        ``running``, ``finished_at`` when it turns terminal, unless given), fenced; ``event``
        (kind, message): an event of the run written in the same transaction, after the
        change (:meth:`update_run_and_say` returns it)."""
        return self.update_run_and_say(run_id, event, **fields)[0]

    def update_run_and_say(
        self, run_id: str, event: tuple[str, str] | None = None, **fields: Any
    ) -> tuple[Run, Event | None]:
        """:meth:`update_run`, returning the event written with it (None without one)."""
        written: Event | None = None
        with self.sessions.begin() as s:
            conn = s.connection()
            self._fence(conn, [run_id])
            run = s.get(Run, run_id)
            if run is None:
                raise NotFound("run", run_id)
            if fields.get("status") == "running" and run.started_at is None:
                run.started_at = utcnow()
            if fields.get("status") in TERMINAL:
                run.finished_at = utcnow()
            for name, value in fields.items():
                setattr(run, name, value)
            if event is not None:
                kind, message = event
                if self.redactor is not None:
                    message = self.redactor.text(message)
                values = {"run_id": run_id, "ts": utcnow(), "kind": kind, "message": message}
                s.flush()  # the run's change first: the event follows it
                key = conn.execute(_INSERT_EVENT, values).inserted_primary_key
                written = Event(id=key[0] if key else None, step=None, task=None, data=None,
                                **values)  # fmt: skip
        if written is not None and self.bus is not None:
            self.bus.notify()
        return run, written
