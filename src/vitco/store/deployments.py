"""Queries of the deployments ``vitco serve`` keeps up (``models.Deployment``): one row per
project, written by the supervisor (``vitco.deployments``), read by the API (scoped to a
tenant in the same query, like ``store.access``) and by ``vitco deployments``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from vitco.store.access import Cursor, Page, _created_key, _newest_first, _page
from vitco.store.exceptions import AmbiguousId, NotFound
from vitco.store.models import Deployment, Project, new_id, utcnow

STATUSES = ("starting", "running", "restarting", "stopped")


class DeploymentStore:
    """The ``deployments`` table on the store's sessions."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def save(
        self,
        project_id: str,
        run_id: str,
        *,
        deployment_id: str | None = None,
        port: int,
        root: str,
        toolchain: str,
        plan: dict[str, Any] | None,
    ) -> Deployment:
        """The project's deployment, now of ``run_id`` (made on its first deploy; a later
        deploy keeps its id and port and wants it up again, even if it was stopped);
        ``deployment_id``: the id of a new row (default: a fresh one)."""
        with self.sessions.begin() as s:
            project = s.get(Project, project_id)
            if project is None:
                raise NotFound("project", project_id)
            row = s.scalars(select(Deployment).where(Deployment.project_id == project_id)).first()
            if row is None:
                row = Deployment(
                    id=deployment_id or new_id("d"), tenant_id=project.tenant_id,
                    project_id=project_id, port=port, created_at=utcnow(), restarts=0,
                )  # fmt: skip
                s.add(row)
            row.run_id, row.root, row.toolchain, row.plan = run_id, root, toolchain, plan
            row.status, row.last_error, row.stopped_at, row.restarts = "starting", None, None, 0
            return row

    def get(self, deployment_id: str) -> Deployment:
        with self.sessions() as s:
            row = s.get(Deployment, deployment_id)
        if row is None:
            raise NotFound("deployment", deployment_id)
        return row

    def for_project(self, project_id: str) -> Deployment | None:
        with self.sessions() as s:
            q = select(Deployment).where(Deployment.project_id == project_id)
            return s.scalars(q).first()

    def find(self, ident: str) -> Deployment:
        """A deployment by its id, its project's id, or a unique prefix of either (for the
        command line); ``AmbiguousId`` if a prefix names several."""
        with self.sessions() as s:
            exact = s.scalars(
                select(Deployment).where(
                    (Deployment.id == ident) | (Deployment.project_id == ident)
                )
            ).first()
            if exact is not None:
                return exact
            like = ident.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            rows = list(
                s.scalars(
                    select(Deployment).where(
                        Deployment.id.like(like, escape="\\")
                        | Deployment.project_id.like(like, escape="\\")
                    )
                )
            )
        if not rows:
            raise NotFound("deployment", ident)
        if len(rows) > 1:
            raise AmbiguousId("deployment", ident, [r.id for r in rows])
        return rows[0]

    def all(self) -> list[Deployment]:
        """Every deployment, newest first (all tenants: the command line's view)."""
        with self.sessions() as s:
            q = select(Deployment).order_by(Deployment.created_at.desc(), Deployment.id.desc())
            return list(s.scalars(q))

    def wanted(self) -> list[Deployment]:
        """The deployments to keep up: every one not stopped on request."""
        with self.sessions() as s:
            q = select(Deployment).where(Deployment.stopped_at.is_(None)).order_by(Deployment.id)
            return list(s.scalars(q))

    def ports(self) -> set[int]:
        """Every port a deployment holds (kept while it is stopped: its URL stays its own)."""
        with self.sessions() as s:
            return set(s.scalars(select(Deployment.port)))

    def update(self, deployment_id: str, **fields: Any) -> None:
        with self.sessions.begin() as s:
            s.execute(update(Deployment).where(Deployment.id == deployment_id).values(**fields))

    def request_stop(self, deployment_id: str) -> Deployment:
        """Mark it stopped on request (again: nothing changes); ``vitco serve`` stops its app
        and does not bring it back."""
        with self.sessions.begin() as s:
            row = s.get(Deployment, deployment_id)
            if row is None:
                raise NotFound("deployment", deployment_id)
            if row.stopped_at is None:
                row.stopped_at, row.status = utcnow(), "stopped"
            return row

    # reads scoped to a tenant ----------------------------------------------------------------

    def scoped(self, tenant_id: str, deployment_id: str) -> Deployment:
        """The tenant's deployment; another tenant's is ``NotFound`` like a missing one."""
        with self.sessions() as s:
            q = select(Deployment).where(
                Deployment.id == deployment_id, Deployment.tenant_id == tenant_id
            )
            row = s.scalars(q).first()
        if row is None:
            raise NotFound("deployment", deployment_id)
        return row

    def page(
        self,
        tenant_id: str,
        *,
        project_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        after: Cursor | None = None,
    ) -> Page[Deployment]:
        """The tenant's deployments, newest first; by project and status."""
        q = select(Deployment).where(Deployment.tenant_id == tenant_id)
        if project_id:
            q = q.where(Deployment.project_id == project_id)
        if status:
            q = q.where(Deployment.status == status)
        with self.sessions() as s:
            return _page(s, _newest_first(q, Deployment, after), _created_key, limit)
