"""The run rows of ``Store``: reading a run with its project, and changing a run together
with the event that says so.

A run's executor reads its run and project once (one query, ``run_with_project``) and changes
the run twice: when it starts and when it ends. Each change and its ``run`` event go in one
transaction (``update_run(..., event=...)``): a trivial run is dominated by its commits, and a
status without the event that announces it (or the reverse) is never seen by a reader. The
start goes in the transaction that takes the run's lease (``conn``), the ending in one that
also gives the lease and the worker's job back (``within``): an execution commits three
times (its job's take, its start, its ending), each commit a group a crash keeps or drops
whole. Its
report reads the run with its tasks, artifacts and ledger in one go (``run_record``: Core
statements built once, on one connection; through four ORM sessions that was ~1 ms of the
~9 ms of CPU a trivial run cost), on the ending's own connection (``mark_run``'s
``computed``), and reads only the tables that hold rows of the run: a run with no task,
artifact or model call (a trivial run) is read in one statement, not four.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Update,
    bindparam,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from vitco.store.exceptions import NotFound
from vitco.store.models import (
    Artifact,
    Event,
    ModelCall,
    Project,
    Run,
    Task,
    UTCDateTime,
    utcnow,
)
from vitco.store.rows import detached

if TYPE_CHECKING:
    from vitco.events.protocol import EventBus
    from vitco.observability.redaction import Redactor

TERMINAL = frozenset({"delivered", "needs_attention", "failed"})

_INSERT_EVENT = insert(Event)
_RUN_COLUMNS = tuple(Run.__table__.c)


@functools.cache
def _update_run(names: tuple[str, ...], starts: bool, read_back: bool = True) -> Update:
    """The UPDATE of these run fields (bound as ``_<name>``, the run as ``_run_id``),
    ``RETURNING`` the run when ``read_back``, built once per set of names; ``starts``:
    ``started_at`` is set to ``_now`` unless the run started before."""
    values: dict[str, Any] = {name: bindparam(f"_{name}") for name in names}
    if starts:
        values["started_at"] = func.coalesce(Run.started_at, bindparam("_now", type_=UTCDateTime()))
    changed = update(Run).where(Run.id == bindparam("_run_id")).values(values)
    return changed.returning(*_RUN_COLUMNS) if read_back else changed


_PROJECT_COLUMNS = tuple(Project.__table__.c)
_WITH_PROJECT = (
    select(*_RUN_COLUMNS, *_PROJECT_COLUMNS)
    .join_from(Run, Project, Project.id == Run.project_id)
    .where(Run.id == bindparam("_run_id"))
)

_RECORD = (
    # the run, and whether it has any task, artifact, ledger row (else not read for nothing)
    select(
        *_RUN_COLUMNS,
        *(
            exists().where(table.c.run_id == bindparam("_run_id"))
            for table in (Task.__table__, Artifact.__table__, ModelCall.__table__)
        ),
    ).where(Run.id == bindparam("_run_id")),
    select(*Task.__table__.c).where(Task.run_id == bindparam("_run_id")).order_by(Task.id),
    select(*Artifact.__table__.c)
    .where(Artifact.run_id == bindparam("_run_id"))
    .order_by(Artifact.created_at),
    select(*ModelCall.__table__.c)
    .where(ModelCall.run_id == bindparam("_run_id"))
    .order_by(ModelCall.id),
)


@dataclass(frozen=True)
class RunRecord:
    """A run with what its report is made of: its tasks (in plan order), artifacts (oldest
    first) and ledger rows (in call order), as instances no session holds."""

    run: Run
    tasks: list[Task]
    artifacts: list[Artifact]
    calls: list[ModelCall]


class RunRows:
    """The run part of ``Store`` (which sets ``sessions``, ``bus``, ``redactor`` and the
    fencing of ``vitco.store.fences``)."""

    sessions: sessionmaker[Session]
    bus: EventBus | None
    redactor: Redactor | None
    _fence: Callable[[Any, Iterable[str | None]], None]  # vitco.store.fences.Fences'
    engine: Engine  # the store's (``Fences.engine``)

    def run_with_project(self, run_id: str) -> tuple[Run, Project]:
        """A run and its project, in one query (Core: every job a worker takes reads them)."""
        with self.engine.connect() as conn:
            row = conn.execute(_WITH_PROJECT, {"_run_id": run_id}).first()
        if row is None:
            raise NotFound("run", run_id)
        n = len(_RUN_COLUMNS)
        run = detached(Run, {c.key: v for c, v in zip(_RUN_COLUMNS, row[:n], strict=True)})
        project = detached(
            Project, {c.key: v for c, v in zip(_PROJECT_COLUMNS, row[n:], strict=True)}
        )
        return run, project

    def run_record(self, run_id: str, conn: Connection | None = None) -> RunRecord:
        """The run and its tasks, artifacts and ledger rows (see the module docstring);
        ``NotFound`` if there is no such run. Outside a step only: a step's held writes are
        not in it. ``conn``: read in that connection's transaction (the run's ending's)."""
        if conn is None:
            with self.engine.connect() as own:
                return self.run_record(run_id, own)
        params = {"_run_id": run_id}
        runs, tasks, artifacts, calls = _RECORD
        row = conn.execute(runs, params).first()
        if row is None:
            raise NotFound("run", run_id)
        n = len(_RUN_COLUMNS)
        has_tasks, has_artifacts, has_calls = row[n:]
        return RunRecord(
            detached(Run, {c.key: v for c, v in zip(_RUN_COLUMNS, row[:n], strict=True)}),
            [detached(Task, r._asdict()) for r in conn.execute(tasks, params)] if has_tasks else [],
            [detached(Artifact, r._asdict()) for r in conn.execute(artifacts, params)]
            if has_artifacts
            else [],
            [detached(ModelCall, r._asdict()) for r in conn.execute(calls, params)]
            if has_calls
            else [],
        )

    def update_run(
        self, run_id: str, *, event: tuple[str, str] | None = None, **fields: Any
    ) -> Run:
        """Change the run's ``fields`` (``started_at`` is set when it first turns
        ``running``, ``finished_at`` when it turns terminal, unless given), fenced; ``event``
        (kind, message): an event of the run written in the same transaction, after the
        change (:meth:`update_run_and_say` returns it)."""
        return self.update_run_and_say(run_id, event, **fields)[0]

    def update_run_and_say(
        self,
        run_id: str,
        event: tuple[str, str] | None = None,
        *,
        conn: Connection | None = None,
        within: Callable[[Connection], None] | None = None,
        **fields: Any,
    ) -> tuple[Run, Event | None]:
        """:meth:`update_run`, returning the event written with it (None without one).
        ``within``: more writes of the same transaction, after the change (the run's ending
        gives its lease and its job back with it). ``conn``: in that transaction (the lease's
        own, at the run's start), not in one of its own; the caller then tells the event bus
        after its commit (:meth:`events_written`).

        One ``UPDATE ... RETURNING`` through Core, not the ORM's read, change and flush: a run
        changes at least twice, and a trivial run's time is mostly its statements."""
        run, said = self._change_run(run_id, event, conn, within, None, fields, read_back=True)
        assert run is not None
        return run, said

    def mark_run(
        self,
        run_id: str,
        event: tuple[str, str] | None = None,
        *,
        conn: Connection | None = None,
        within: Callable[[Connection], None] | None = None,
        computed: Callable[[Connection], Mapping[str, Any]] | None = None,
        **fields: Any,
    ) -> Event | None:
        """:meth:`update_run_and_say` without reading the run back (its executor's start and
        ending: a run row read back is ~20 columns and its report parsed, for nothing);
        returns the event. ``computed``: more fields, made on the transaction's connection
        before its fence check (the run's report: one connection, not two; on SQLite its
        reads come before the transaction takes the write lock, which is not held for them)."""
        return self._change_run(run_id, event, conn, within, computed, fields, read_back=False)[1]

    def _change_run(
        self,
        run_id: str,
        event: tuple[str, str] | None,
        conn: Connection | None,
        within: Callable[[Connection], None] | None,
        computed: Callable[[Connection], Mapping[str, Any]] | None,
        fields: dict[str, Any],
        *,
        read_back: bool,
    ) -> tuple[Run | None, Event | None]:
        if conn is not None:
            return self._update_run_in(conn, run_id, event, within, computed, fields, read_back)
        with self.engine.begin() as own:
            changed = self._update_run_in(own, run_id, event, within, computed, fields, read_back)
        if changed[1] is not None:
            self.events_written()
        return changed

    def events_written(self) -> None:
        """Tell the event bus that a transaction wrote events (after its commit)."""
        if self.bus is not None:
            self.bus.notify()

    def _update_run_in(
        self,
        conn: Connection,
        run_id: str,
        event: tuple[str, str] | None,
        within: Callable[[Connection], None] | None,
        computed: Callable[[Connection], Mapping[str, Any]] | None,
        fields: dict[str, Any],
        read_back: bool,
    ) -> tuple[Run | None, Event | None]:
        now = utcnow()
        values = dict(fields)
        starts = fields.get("status") == "running" and "started_at" not in fields
        if fields.get("status") in TERMINAL and "finished_at" not in fields:
            values["finished_at"] = now
        written: Event | None = None
        if computed is not None:  # before the fence: on SQLite, outside the write lock
            values.update(computed(conn))
        self._fence(conn, [run_id])
        params = {f"_{name}": value for name, value in values.items()}
        params |= {"_run_id": run_id, "_now": now}
        result = conn.execute(_update_run(tuple(values), starts, read_back), params)
        if read_back:
            row = result.first()
            found = row is not None
        else:
            row, found = None, cast(CursorResult[Any], result).rowcount > 0
        if not found:
            raise NotFound("run", run_id)
        if event is not None:
            kind, message = event
            if self.redactor is not None:
                message = self.redactor.text(message)
            said = {"run_id": run_id, "ts": now, "kind": kind, "message": message}
            key = conn.execute(_INSERT_EVENT, said).inserted_primary_key
            written = detached(Event, {"id": key[0] if key else None, "step": None,
                                       "task": None, "data": None, **said})  # fmt: skip
        if within is not None:
            within(conn)
        return (detached(Run, row._asdict()) if row is not None else None), written
