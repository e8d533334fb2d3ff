"""Queries: the one place that reads and writes the database.

``Store`` wraps a session factory; every method opens a short session, so it is safe to share
between the threads of parallel task branches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import case, func, literal, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from vitco.store.exceptions import NotFound, SandboxSlotContended
from vitco.store.models import (
    Artifact,
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

T = TypeVar("T")
DEFAULT_TENANT = "default"
TERMINAL = frozenset({"delivered", "needs_attention", "failed"})
# Each lost race for a sandbox slot means another project got created, so a handful of tries
# is enough for as many processes creating projects at once.
SLOT_ATTEMPTS = 20


class Store:
    """Typed access to vitco's tables."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    # tenants, projects, briefs ---------------------------------------------------------------

    def ensure_tenant(self, tenant_id: str = DEFAULT_TENANT, name: str = "Default") -> str:
        try:
            with self.sessions.begin() as s:
                if s.get(Tenant, tenant_id) is None:
                    s.add(Tenant(id=tenant_id, name=name))
        except IntegrityError:
            # another process added it between our read and our insert
            with self.sessions() as s:
                if s.get(Tenant, tenant_id) is None:
                    raise
        return tenant_id

    def create_project(
        self,
        name: str,
        repo_path: str,
        *,
        tenant_id: str = DEFAULT_TENANT,
        project_id: str | None = None,
        client: str = "",
    ) -> Project:
        """A new project, with the smallest sandbox slot no other project holds.

        Two processes creating projects at once may both pick the same free slot; the unique
        constraint turns the second away and it picks again, up to :data:`SLOT_ATTEMPTS` times
        (then :class:`SandboxSlotContended`). Any other integrity error (an id already taken)
        is raised at once.
        """
        self.ensure_tenant(tenant_id)
        project_id = project_id or new_id("p")
        for _ in range(SLOT_ATTEMPTS):
            try:
                with self.sessions.begin() as s:
                    project = Project(
                        id=project_id,
                        tenant_id=tenant_id,
                        name=name,
                        repo_path=repo_path,
                        client=client,
                        sandbox_slot=_smallest_free_slot(s),
                    )
                    s.add(project)
                return project
            except IntegrityError as exc:
                # SQLite names the column, PostgreSQL the constraint: both say sandbox_slot
                if "sandbox_slot" not in str(exc.orig):
                    raise
                lost = exc
        raise SandboxSlotContended(project_id, SLOT_ATTEMPTS) from lost

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

    def runs(self, project_id: str | None = None) -> list[Run]:
        with self.sessions() as s:
            q = select(Run).order_by(Run.created_at.desc())
            if project_id:
                q = q.where(Run.project_id == project_id)
            return list(s.scalars(q))

    def update_run(self, run_id: str, **fields: Any) -> Run:
        with self.sessions.begin() as s:
            run = s.get(Run, run_id)
            if run is None:
                raise NotFound("run", run_id)
            if fields.get("status") == "running" and run.started_at is None:
                run.started_at = utcnow()
            if fields.get("status") in TERMINAL:
                run.finished_at = utcnow()
            for name, value in fields.items():
                setattr(run, name, value)
            return run

    # tasks ------------------------------------------------------------------------------------

    def add_tasks(self, run_id: str, tasks: Iterable[dict[str, Any]]) -> None:
        """Store the plan's tasks; tasks already stored for the run are left as they are."""
        with self.sessions.begin() as s:
            existing = set(s.scalars(select(Task.key).where(Task.run_id == run_id)))
            for t in tasks:
                if t["key"] not in existing:
                    s.add(Task(run_id=run_id, **t))

    def tasks(self, run_id: str) -> list[Task]:
        with self.sessions() as s:
            return list(s.scalars(select(Task).where(Task.run_id == run_id).order_by(Task.id)))

    def update_task(self, run_id: str, key: str, **fields: Any) -> None:
        with self.sessions.begin() as s:
            task = s.scalar(select(Task).where(Task.run_id == run_id, Task.key == key))
            if task is None:
                raise NotFound("task", f"{run_id}/{key}")
            for name, value in fields.items():
                setattr(task, name, value)

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
    ) -> Event:
        event = Event(run_id=run_id, kind=kind, message=message, step=step, task=task, data=data)
        with self.sessions.begin() as s:
            s.add(event)
        return event

    def events(self, run_id: str, after_id: int = 0) -> list[Event]:
        with self.sessions() as s:
            q = select(Event).where(Event.run_id == run_id, Event.id > after_id).order_by(Event.id)
            return list(s.scalars(q))

    # the cost ledger --------------------------------------------------------------------------

    def record_call(self, call: ModelCall) -> None:
        with self.sessions.begin() as s:
            s.add(call)

    def find_call(self, run_id: str, call_key: str, fingerprint: str) -> ModelCall | None:
        """The completed call with this key and request fingerprint, if any (resume journal)."""
        with self.sessions() as s:
            q = (
                select(ModelCall)
                .where(
                    ModelCall.run_id == run_id,
                    ModelCall.call_key == call_key,
                    ModelCall.fingerprint == fingerprint,
                )
                .order_by(ModelCall.id.desc())
            )
            return s.scalars(q).first()

    def calls(self, *, run_id: str | None = None, project_id: str | None = None) -> list[ModelCall]:
        with self.sessions() as s:
            q = select(ModelCall).order_by(ModelCall.id)
            if run_id:
                q = q.where(ModelCall.run_id == run_id)
            if project_id:
                q = q.where(ModelCall.project_id == project_id)
            return list(s.scalars(q))

    def spent_usd(self, project_id: str) -> float:
        with self.sessions() as s:
            total = s.scalar(
                select(func.coalesce(func.sum(ModelCall.cost_usd), 0.0)).where(
                    ModelCall.project_id == project_id
                )
            )
            return float(total or 0.0)

    COST_GROUPS = ("project", "role", "tier", "model", "day")

    def cost_breakdown(
        self, *, by: str = "role", project_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Ledger totals grouped by one of :attr:`COST_GROUPS`, optionally for one project.

        Each row: ``key``, ``calls``, ``input_tokens``, ``output_tokens``, ``usd``,
        ``cache_hits``, ``retries``, ``model_s``; ordered by key.
        """
        columns = {
            "project": ModelCall.project_id,
            "role": ModelCall.role,
            "tier": func.coalesce(ModelCall.tier, "default"),
            "model": ModelCall.model,
            "day": func.date(ModelCall.created_at),
        }
        if by not in columns:
            raise ValueError(f"cannot group costs by {by!r}; use one of {self.COST_GROUPS}")
        group = columns[by]
        q = (
            select(
                group.label("key"),
                func.count(ModelCall.id),
                func.coalesce(func.sum(ModelCall.input_tokens), 0),
                func.coalesce(func.sum(ModelCall.output_tokens), 0),
                func.coalesce(func.sum(ModelCall.cost_usd), 0.0),
                func.coalesce(func.sum(case((ModelCall.cache_hit, 1), else_=0)), 0),
                func.coalesce(func.sum(ModelCall.retries), 0),
                func.coalesce(func.sum(ModelCall.latency_s), 0.0),
            )
            .group_by(group)
            .order_by(group)
        )
        if project_id:
            q = q.where(ModelCall.project_id == project_id)
        names = ("calls", "input_tokens", "output_tokens", "usd", "cache_hits", "retries")
        with self.sessions() as s:
            rows = []
            for key, *values, model_s in s.execute(q):
                row: dict[str, Any] = {"key": str(key)}
                row |= {n: v for n, v in zip(names, values, strict=True)}
                row["usd"] = float(row["usd"])
                row["model_s"] = float(model_s)
                rows.append(row)
            return rows

    # artifacts --------------------------------------------------------------------------------

    def put_artifact(
        self,
        run_id: str,
        kind: str,
        content: dict[str, Any],
        *,
        task: str | None = None,
        attempt: int | None = None,
    ) -> str:
        artifact = Artifact(
            id=new_id("a"), run_id=run_id, kind=kind, content=content, task=task, attempt=attempt
        )
        with self.sessions.begin() as s:
            s.add(artifact)
        return artifact.id

    def get_artifact(self, artifact_id: str) -> dict[str, Any]:
        return self._get(Artifact, artifact_id, "artifact").content

    def artifacts(self, run_id: str, kind: str | None = None) -> list[Artifact]:
        with self.sessions() as s:
            q = select(Artifact).where(Artifact.run_id == run_id).order_by(Artifact.created_at)
            if kind:
                q = q.where(Artifact.kind == kind)
            return list(s.scalars(q))

    # side effects -----------------------------------------------------------------------------

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
        result = do()
        try:
            with self.sessions.begin() as s:
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


def _smallest_free_slot(s: Session) -> int:
    """The smallest sandbox slot >= 0 that no project holds: the least of 0 and each held
    slot + 1 that is not itself held (one query over the unique index, however many projects)."""
    candidates = union_all(
        select(literal(0).label("slot")),
        select((Project.sandbox_slot + 1).label("slot")).where(Project.sandbox_slot >= 0),
    ).subquery()
    held = select(Project.id).where(Project.sandbox_slot == candidates.c.slot)
    return int(s.scalar(select(func.min(candidates.c.slot)).where(~held.exists())) or 0)
