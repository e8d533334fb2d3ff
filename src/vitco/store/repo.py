"""Queries: the one place that reads and writes the database.

``Store`` wraps a session factory; every method opens a short session, so it is safe to share
between the threads of parallel task branches.

Inside ``with store.step():`` (the workflow wraps every step in one) the events, artifacts and
task-row updates a thread writes are kept and written together, in one transaction, when the
step ends, whether it ends well or raises: a step costs one commit instead of one per row, and
a write lock is never held while a step waits on a model or the sandbox. Reads inside the block
see those pending writes. The cost ledger, side effects (``once``) and run rows are never held
back: they must be on disk before anything is done that depends on them.

After a transaction that wrote events commits, the store notifies its event bus (if it has
one; ``vitco.events``), so the live streams of every process read them at once.

Fencing (``vitco.store.fences``): while a process drives a run, every write for the run
checks that no newer lease token has driven it since.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    Connection,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from vitco.store.artifacts import Artifacts
from vitco.store.costs import CostQueries
from vitco.store.exceptions import AmbiguousId, NotFound
from vitco.store.fences import Fences
from vitco.store.models import (
    Brief,
    Effect,
    Event,
    ModelCall,
    Project,
    Run,
    Task,
    Tenant,
    new_id,
    utcnow,
)
from vitco.store.projects import DEFAULT_TENANT as DEFAULT_TENANT
from vitco.store.projects import SLOT_ATTEMPTS as SLOT_ATTEMPTS
from vitco.store.projects import NewRun as NewRun
from vitco.store.projects import ProjectRows as ProjectRows
from vitco.store.projects import Projects
from vitco.store.runs import TERMINAL as TERMINAL
from vitco.store.runs import RunRows
from vitco.store.writes import Write

if TYPE_CHECKING:
    from vitco.events.protocol import EventBus
    from vitco.observability.redaction import Redactor

T = TypeVar("T")

MAX_CANDIDATES = 10  # ids an ambiguous prefix names


_INSERT_EVENT = insert(Event)


@functools.cache
def _update_task(names: tuple[str, ...]) -> Any:
    """The UPDATE of these task fields, built once per set of field names."""
    where = (Task.run_id == bindparam("_run"), Task.key == bindparam("_key"))
    return update(Task).where(*where).values({n: bindparam(n) for n in names})


_TASKS = select(Task).where(Task.run_id == bindparam("_run_id")).order_by(Task.id)


class Store(RunRows, Projects, Artifacts, Fences, CostQueries):
    """Typed access to vitco's tables."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        bus: EventBus | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        # every event and artifact is written through it: no known secret is stored
        self.redactor = redactor
        self._local = threading.local()
        self._fences: dict[str, int] = {}  # run id -> the lease token this process drives it with
        self._tenants: set[str] = set()  # tenants known to exist

    # the unit of a step ----------------------------------------------------------------------

    @contextmanager
    def step(self, execution: str | None = None) -> Iterator[None]:
        """Hold this thread's event, artifact and task-row writes until the block ends, then
        write them in one transaction, also when the block raises an error; a stop
        (``KeyboardInterrupt`` or another non-``Exception``) drops them, since the step will
        run again. Nested blocks join the outer one.

        ``execution`` names this run of the step's place in the workflow, the same when it is
        run again after a crash: its artifacts replace those of the earlier run, which its
        reads do not see (``vitco.store.artifacts``)."""
        if self._pending() is not None:
            yield
            return
        self._local.pending = []
        self._local.execution = execution
        keep = True
        try:
            yield
        except Exception:
            raise  # an error keeps what the step wrote: it is the evidence
        except BaseException:
            keep = False  # a stop (Ctrl-C, RunInterrupted): the step will be done again
            raise
        finally:
            pending: list[Write] = self._local.pending
            self._local.pending = None
            self._local.held = {}
            self._local.execution = None
            if pending and keep:
                self._write(pending, step=True)

    def _pending(self) -> list[Write] | None:
        pending: list[Write] | None = getattr(self._local, "pending", None)
        return pending

    def _hold(self, write: Write) -> None:
        """Write now, in a transaction of its own, or when this thread's step ends."""
        pending = self._pending()
        if pending is not None:
            pending.append(write)
        else:
            self._write([write])

    def _write(self, writes: list[Write], *, step: bool = False) -> None:
        # SQLAlchemy Core, not the ORM: a step's rows are plain inserts and one update, and the
        # ORM's unit of work would cost more than the statements themselves.
        engine = self.engine
        with engine.begin() as conn:  # no Session: nothing here needs one
            self._fence(conn, (w.run for w in writes))
            if step and engine.dialect.name == "postgresql":
                # A step's rows need not wait for their own flush to disk: the checkpoint that
                # records the step is committed after them, synchronously, in the same
                # server's WAL, and flushing it flushes them. A crash loses both or neither.
                conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
            if step:
                writes = _unreported(conn, writes)
            batch: list[dict[str, Any]] = []
            for i, w in enumerate(writes):
                if w.on_id is not None:  # an insert whose key is wanted: on its own
                    key = conn.execute(w.statement, w.params).inserted_primary_key
                    w.on_id(key[0] if key else None)
                    continue
                if w.missing is None:  # inserts: runs of the same statement go as one
                    batch.append(w.params)
                    nxt = writes[i + 1] if i + 1 < len(writes) else None
                    if nxt is None or nxt.statement is not w.statement:
                        conn.execute(w.statement, batch)
                        batch = []
                    continue
                if conn.execute(w.statement, w.params).rowcount == 0:
                    raise w.missing
        if self.bus is not None and any(w.statement is _INSERT_EVENT for w in writes):
            self.bus.notify()

    def ping(self) -> None:
        """One round trip to the database (raises if it does not answer)."""
        with self.sessions() as s:
            s.execute(text("SELECT 1"))

    # tenants, projects, briefs ---------------------------------------------------------------

    def ensure_tenant(self, tenant_id: str = DEFAULT_TENANT, name: str = "Default") -> str:
        if tenant_id in self._tenants:  # seen here before: tenants are never deleted
            return tenant_id
        try:
            with self.sessions.begin() as s:
                if s.get(Tenant, tenant_id) is None:
                    s.add(Tenant(id=tenant_id, name=name))
        except IntegrityError:
            # another process added it between our read and our insert
            with self.sessions() as s:
                if s.get(Tenant, tenant_id) is None:
                    raise
        self._tenants.add(tenant_id)
        return tenant_id

    def resolve_id(self, kind: str, ident: str) -> str:
        """The full id of the ``kind`` ("run" or "project") that ``ident`` names: the id itself
        or, like git, a prefix only one id starts with (``r-3f9a``, or ``3f9a`` without the
        kind's letter). ``NotFound`` when none does, ``AmbiguousId`` naming them when several do.
        """
        model: type[Run] | type[Project] = Run if kind == "run" else Project
        letter = "r-" if model is Run else "p-"
        full = ident if ident.startswith(letter) else letter + ident
        pattern = full.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self.sessions() as s:
            if s.get(model, full) is not None:
                return full
            found = list(
                s.scalars(
                    select(model.id)
                    .where(model.id.like(pattern, escape="\\"))
                    .order_by(model.id)
                    .limit(MAX_CANDIDATES + 1)
                )
            )
        if not found:
            raise NotFound(kind, ident)
        if len(found) > 1:
            raise AmbiguousId(kind, ident, found[:MAX_CANDIDATES])
        return found[0]

    def get_project(self, project_id: str) -> Project:
        return self._get(Project, project_id, "project")

    def projects(self) -> list[Project]:
        with self.sessions() as s:
            return list(s.scalars(select(Project).order_by(Project.created_at.desc())))

    def set_budget(self, project_id: str, budget_usd: float | None) -> None:
        with self.sessions.begin() as s:
            project = s.get(Project, project_id)
            if project is None:
                raise NotFound("project", project_id)
            project.budget_usd = budget_usd

    def create_brief(self, project_id: str, source: str, text: str) -> Brief:
        brief = Brief(id=new_id("b"), project_id=project_id, source=source, text=text)
        with self.sessions.begin() as s:
            s.add(brief)
        return brief

    def get_brief(self, brief_id: str) -> Brief:
        return self._get(Brief, brief_id, "brief")

    # runs -------------------------------------------------------------------------------------

    def create_run(
        self,
        project_id: str,
        brief_id: str,
        model: str,
        workflow: str,
        *,
        run_id: str | None = None,
        branch: str = "main",
        base_sha: str | None = None,
        parent_run_id: str | None = None,
        fork_checkpoint: str | None = None,
    ) -> Run:
        run = Run(
            id=run_id or new_id("r"),
            project_id=project_id,
            brief_id=brief_id,
            model=model,
            workflow=workflow,
            branch=branch,
            base_sha=base_sha,
            parent_run_id=parent_run_id,
            fork_checkpoint=fork_checkpoint,
        )
        with self.sessions.begin() as s:
            s.add(run)
        return run

    def get_run(self, run_id: str) -> Run:
        return self._get(Run, run_id, "run")

    def runs(
        self, project_id: str | None = None, *, statuses: Iterable[str] | None = None
    ) -> list[Run]:
        """Runs, newest first: of a project, and in one of ``statuses``, if given."""
        with self.sessions() as s:
            q = select(Run).order_by(Run.created_at.desc())
            if project_id:
                q = q.where(Run.project_id == project_id)
            if statuses is not None:
                q = q.where(Run.status.in_(list(statuses)))
            return list(s.scalars(q))

    # tasks ------------------------------------------------------------------------------------

    def add_tasks(self, run_id: str, tasks: Iterable[dict[str, Any]]) -> None:
        """Store the plan's tasks; tasks already stored for the run are left as they are."""
        with self.sessions.begin() as s:
            self._fence(s.connection(), [run_id])
            existing = set(s.scalars(select(Task.key).where(Task.run_id == run_id)))
            for t in tasks:
                if t["key"] not in existing:
                    s.add(Task(run_id=run_id, **t))

    def tasks(self, run_id: str) -> list[Task]:
        with self.sessions() as s:
            return list(s.scalars(_TASKS, {"_run_id": run_id}))

    def update_task(self, run_id: str, key: str, **fields: Any) -> None:
        """Change a task row; ``NotFound`` (at the end of the step, inside one) if it is not
        there."""
        statement = update(Task).where(Task.run_id == run_id, Task.key == key).values(**fields)
        self._hold(Write(statement, {}, NotFound("task", f"{run_id}/{key}"), run=run_id))

    # events -----------------------------------------------------------------------------------

    def add_event(
        self,
        run_id: str,
        kind: str,
        message: str = "",
        *,
        step: str | None = None,
        task: str | None = None,
        data: dict[str, Any] | None = None,
        now: bool = False,
    ) -> Event:
        """Add an event; inside a step it is written with the step's writes, unless ``now``
        (something that happened whatever becomes of the step, like a paid model request)."""
        if self.redactor is not None:
            message, data = self.redactor.text(message), self.redactor.value(data)
        values = {
            "run_id": run_id,
            "ts": utcnow(),
            "kind": kind,
            "message": message,
            "step": step,
            "task": task,
            "data": data,
            "execution": None if now else self._execution(),
        }
        event = Event(**values)

        def set_id(key: Any) -> None:
            event.id = key

        if now:
            self._write([Write(_INSERT_EVENT, values, on_id=set_id, run=run_id)])
        elif self._pending() is not None:  # its id is known once the step is written
            self._hold(Write(_INSERT_EVENT, values, run=run_id))
        else:
            self._hold(Write(_INSERT_EVENT, values, on_id=set_id, run=run_id))
        return event

    def last_event_at(self, run_id: str) -> datetime | None:
        """When the run's newest event was written (None: it has none)."""
        with self.sessions() as s:
            last = s.scalar(select(func.max(Event.ts)).where(Event.run_id == run_id))
        if isinstance(last, str):  # SQLite's max() of a datetime column is its text
            last = datetime.fromisoformat(last)
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        return last

    def events(self, run_id: str, after_id: int = 0) -> list[Event]:
        with self.sessions() as s:
            q = select(Event).where(Event.run_id == run_id, Event.id > after_id).order_by(Event.id)
            return list(s.scalars(q))

    # the cost ledger --------------------------------------------------------------------------

    def record_call(self, call: ModelCall) -> None:
        if self.redactor is not None and call.error:
            call.error = self.redactor.text(call.error)
        with self.sessions.begin() as s:
            self._fence(s.connection(), [call.run_id])
            s.add(call)

    def find_call(self, run_id: str, call_key: str, fingerprint: str) -> ModelCall | None:
        """The answered call with this key and request fingerprint, if any (resume journal):
        the ledger's requests that failed carry no answer."""
        with self.sessions() as s:
            q = (
                select(ModelCall)
                .where(
                    ModelCall.run_id == run_id,
                    ModelCall.call_key == call_key,
                    ModelCall.fingerprint == fingerprint,
                    ModelCall.response != "",
                )
                .order_by(ModelCall.id.desc())
            )
            return s.scalars(q).first()

    def mark_call(self, run_id: str, call_key: str, fingerprint: str, *, outcome: str) -> None:
        """Change the outcome of the latest answered request of a call (an answer found
        invalid after it was recorded)."""
        found = self.find_call(run_id, call_key, fingerprint)
        if found is None:
            return
        with self.sessions.begin() as s:
            self._fence(s.connection(), [run_id])
            s.execute(update(ModelCall).where(ModelCall.id == found.id).values(outcome=outcome))

    # side effects -----------------------------------------------------------------------------

    def sent_mails(self, run_id: str) -> list[tuple[datetime, str]]:
        """(when, outbox path) of every mail the run sent, oldest first: each is the side
        effect of one idempotency key (``once``) whose result names an ``.eml`` file (the
        notices, the invoice and the delivery mail alike)."""
        with self.sessions() as s:
            rows = s.execute(
                select(Effect.created_at, Effect.result)
                .where(Effect.run_id == run_id)
                .order_by(Effect.created_at, Effect.key)
            ).all()
        found = []
        for at, result in rows:
            path = result.get("path") if isinstance(result, dict) else None
            if isinstance(path, str) and path.endswith(".eml"):
                found.append((at, path))
        return found

    def get_effect(self, key: str) -> dict[str, Any] | None:
        with self.sessions() as s:
            effect = s.get(Effect, key)
            return None if effect is None else effect.result

    def once(self, run_id: str, key: str, do: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run the side effect ``do`` unless ``key`` was already done; return its result.

        ``do`` must itself be safe to repeat if the process dies between doing it and recording
        it here (each integration checks its own natural key: a commit trailer, a mail file).
        """
        done = self.get_effect(key)
        if done is not None:
            return done
        self.check_fence(run_id)  # a holder that lost the run does not even try
        result = do()
        try:
            with self.sessions.begin() as s:
                self._fence(s.connection(), [run_id])
                s.add(Effect(key=key, run_id=run_id, result=result))
        except IntegrityError:
            stored = self.get_effect(key)
            if stored is not None:
                return stored
            raise
        return result

    # helpers ----------------------------------------------------------------------------------

    def _get(self, model: type[T], key: str, what: str) -> T:
        with self.sessions() as s:
            row = s.get(model, key)
            if row is None:
                raise NotFound(what, key)
            return row


def _unreported(conn: Connection, writes: list[Write]) -> list[Write]:
    """A step's writes without the events an earlier run of the same execution reported
    already (same kind, step, task and message): a step run again after a crash between its
    writes and its checkpoint says once what it did (its artifacts replace the earlier ones,
    ``vitco.store.artifacts``). Those events stay: live clients have them, and sequence
    numbers are never taken back."""
    keyed = [w for w in writes if w.statement is _INSERT_EVENT and w.params.get("execution")]
    if not keyed:
        return writes
    said: Counter[tuple[Any, ...]] = Counter()
    for run_id, execution in {(w.params["run_id"], w.params["execution"]) for w in keyed}:
        rows = conn.execute(
            select(Event.kind, Event.step, Event.task, Event.message).where(
                Event.run_id == run_id, Event.execution == execution
            )
        )
        said.update((run_id, execution, *row) for row in rows)
    held = {id(w) for w in keyed}
    kept = []
    for w in writes:
        if id(w) in held:
            p = w.params
            key = (p["run_id"], p["execution"], p["kind"], p["step"], p["task"], p["message"])
            if said[key] > 0:
                said[key] -= 1
                continue
        kept.append(w)
    return kept
