"""The project part of ``Store``: a new project with its sandbox slot, its brief and first
run, one at a time (:meth:`Projects.open_project`) or many in a caller's transaction (an
inbound webhook's batch, :meth:`Projects.open_projects`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from vitco.store.exceptions import SandboxSlotContended
from vitco.store.models import Brief, Project, Run, new_id
from vitco.store.rows import inserted
from vitco.store.slots import pick_slot, pick_slots

DEFAULT_TENANT = "default"
# Each lost race for a sandbox slot means another project got created, so a handful of tries
# is enough for as many processes creating projects at once.
SLOT_ATTEMPTS = 20


@dataclass(frozen=True)
class NewRun:
    """A first run to store with a new project (:meth:`Store.open_project`)."""

    model: str
    workflow: str
    run_id: str | None = None
    base_sha: str | None = None


@dataclass(frozen=True)
class ProjectRows:
    """A new project, its brief and first run, as :meth:`Store.open_projects` stores it
    (``vitco.workflow.runner.project_rows`` makes one from a brief)."""

    project_id: str
    tenant_id: str
    name: str
    repo_path: str
    client: str
    budget_usd: float | None
    brief: tuple[str, str]
    run: NewRun | None = None


class Projects:
    """The project part of ``Store`` (which sets ``sessions`` and ``ensure_tenant``)."""

    sessions: sessionmaker[Session]
    ensure_tenant: Callable[..., str]  # vitco.store.repo.Store's
    engine: Engine  # the store's (``Fences.engine``)

    def create_project(
        self,
        name: str,
        repo_path: str,
        *,
        tenant_id: str = DEFAULT_TENANT,
        project_id: str | None = None,
        client: str = "",
    ) -> Project:
        """A new project (see :meth:`open_project`)."""
        return self.open_project(
            name, repo_path, tenant_id=tenant_id, project_id=project_id, client=client
        )[0]

    def open_project(
        self,
        name: str,
        repo_path: str,
        *,
        tenant_id: str = DEFAULT_TENANT,
        project_id: str | None = None,
        client: str = "",
        budget_usd: float | None = None,
        brief: tuple[str, str] | None = None,
        run: NewRun | None = None,
    ) -> tuple[Project, Brief | None, Run | None]:
        """A new project with the smallest sandbox slot no other project holds, and in the
        same transaction its budget, its ``brief`` (source, text) and a first ``run`` of it:
        all of them or nothing (a service accepting a brief answers once, after one commit).
        Several at once, in a transaction of the caller's: :meth:`open_projects`.

        On PostgreSQL the pick is serialised by a transaction-level advisory lock (many
        hosts create projects at once, and all would pick the same smallest slot). Elsewhere,
        two processes may both pick the same free slot; the unique constraint turns the second
        away and it picks again, up to :data:`SLOT_ATTEMPTS` times (then
        :class:`SandboxSlotContended`). Any other integrity error (an id already taken) is
        raised at once.
        """
        self.ensure_tenant(tenant_id)
        project_id = project_id or new_id("p")
        for _ in range(SLOT_ATTEMPTS):
            try:
                # Core, one INSERT ... RETURNING each: the rows an accepted brief makes
                with self.engine.begin() as conn:
                    project = inserted(conn, Project, {
                        "id": project_id, "tenant_id": tenant_id, "name": name,
                        "repo_path": repo_path, "client": client, "budget_usd": budget_usd,
                        "sandbox_slot": pick_slot(conn),
                    })  # fmt: skip
                    stored_brief = stored_run = None
                    if brief is not None:
                        stored_brief = inserted(conn, Brief, {
                            "id": new_id("b"), "project_id": project_id, "source": brief[0],
                            "text": brief[1],
                        })  # fmt: skip
                    if run is not None:
                        if stored_brief is None:
                            raise ValueError("a run needs the project's brief")
                        stored_run = inserted(conn, Run, {
                            "id": run.run_id or new_id("r"), "project_id": project_id,
                            "brief_id": stored_brief.id, "model": run.model,
                            "workflow": run.workflow, "base_sha": run.base_sha,
                        })  # fmt: skip
                return project, stored_brief, stored_run
            except IntegrityError as exc:
                # SQLite names the column, PostgreSQL the constraint: both say sandbox_slot
                if "sandbox_slot" not in str(exc.orig):
                    raise
                lost = exc
        raise SandboxSlotContended(project_id, SLOT_ATTEMPTS) from lost

    def open_projects(self, conn: Connection, projects: Sequence[ProjectRows]) -> None:
        """New projects, each with its brief and first run, in ``conn``'s transaction (an
        inbound webhook's batch, ``vitco.api.hook_batches``): one INSERT of many rows per
        table, and the sandbox slots picked once for all of them (``pick_slots``), as
        ``open_project`` picks one. A slot another process took (SQLite) or an id already
        taken raises ``IntegrityError``, and the transaction is the caller's to roll back.
        Their tenants are read first (``ensure_tenant``), outside the transaction."""
        if not projects:
            return
        for tenant_id in {p.tenant_id for p in projects}:
            self.ensure_tenant(tenant_id)
        slots = pick_slots(conn, len(projects))
        briefs = {p.project_id: new_id("b") for p in projects}
        conn.execute(insert(Project), [
            {"id": p.project_id, "tenant_id": p.tenant_id, "name": p.name,
             "repo_path": p.repo_path, "client": p.client, "budget_usd": p.budget_usd,
             "sandbox_slot": slot}
            for p, slot in zip(projects, slots, strict=True)
        ])  # fmt: skip
        conn.execute(insert(Brief), [
            {"id": briefs[p.project_id], "project_id": p.project_id, "source": p.brief[0],
             "text": p.brief[1]}
            for p in projects
        ])  # fmt: skip
        runs = [
            {"id": p.run.run_id or new_id("r"), "project_id": p.project_id,
             "brief_id": briefs[p.project_id], "model": p.run.model,
             "workflow": p.run.workflow, "base_sha": p.run.base_sha}
            for p in projects if p.run is not None
        ]  # fmt: skip
        if runs:
            conn.execute(insert(Run), runs)
