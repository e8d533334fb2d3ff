"""Queries of ``vitco serve``: tenants, users, API keys, the audit log, and reads scoped to a
tenant.

Every read the API makes on behalf of a key goes through a method here that takes the key's
tenant and filters on it in the same query: a row of another tenant is ``NotFound``, exactly
like a row that does not exist, so ids cannot be probed. Lists are keyset-paginated: a page
ends with the sort key of its last row, and the next page starts after it (``Page.after``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from vitco.store.exceptions import AlreadyExists, NotFound
from vitco.store.models import (
    ApiKey,
    AuditEntry,
    Brief,
    Event,
    Project,
    Run,
    Tenant,
    User,
    new_id,
    utcnow,
)

R = TypeVar("R")
Owned = TypeVar("Owned", User, ApiKey, Project)
MAX_PAGE = 200

Cursor = tuple[str, str]
"""Where a page ends: (the sort value, the id) of its last row, as text."""


@dataclass(frozen=True)
class Page(Generic[R]):
    """Rows of one page and the cursor of the next one (None: this is the last)."""

    items: list[R]
    after: Cursor | None


def _page(s: Session, q: Select[Any], rows_key: Any, limit: int) -> Page[Any]:
    rows = list(s.scalars(q.limit(min(limit, MAX_PAGE) + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows_key(rows[-1]) if more and rows else None)


def _newest_first(q: Select[Any], model: Any, after: Cursor | None) -> Select[Any]:
    """Order by (created_at, id) descending, starting after ``after``."""
    q = q.order_by(model.created_at.desc(), model.id.desc())
    if after is None:
        return q
    when, ident = datetime.fromisoformat(after[0]), after[1]
    return q.where(or_(model.created_at < when, and_(model.created_at == when, model.id < ident)))


def _created_key(row: Any) -> Cursor:
    return (row.created_at.isoformat(), str(row.id))


class AccessStore:
    """Tenants, users, keys, the audit log, and tenant-scoped reads, on the store's sessions."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    # tenants ----------------------------------------------------------------------------------

    def create_tenant(self, tenant_id: str, name: str) -> Tenant:
        """A new tenant; ``AlreadyExists`` if the id is taken."""
        tenant = Tenant(id=tenant_id, name=name, created_at=utcnow())
        try:
            with self.sessions.begin() as s:
                s.add(tenant)
        except IntegrityError as exc:
            raise AlreadyExists("tenant", tenant_id) from exc
        return tenant

    def get_tenant(self, tenant_id: str) -> Tenant:
        with self.sessions() as s:
            tenant = s.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound("tenant", tenant_id)
        return tenant

    def tenants(self) -> list[Tenant]:
        with self.sessions() as s:
            return list(s.scalars(select(Tenant).order_by(Tenant.id)))

    # users ------------------------------------------------------------------------------------

    def create_user(self, tenant_id: str, email: str, role: str, name: str = "") -> User:
        user = User(
            id=new_id("u"), tenant_id=tenant_id, email=email, name=name, role=role,
            created_at=utcnow(),
        )  # fmt: skip
        try:
            with self.sessions.begin() as s:
                s.add(user)
        except IntegrityError as exc:
            raise AlreadyExists("user", email) from exc
        return user

    def get_user(self, tenant_id: str, user_id: str) -> User:
        return self._scoped(User, tenant_id, user_id, "user")

    def users(self, tenant_id: str, *, limit: int = 50, after: Cursor | None = None) -> Page[User]:
        q = _newest_first(select(User).where(User.tenant_id == tenant_id), User, after)
        with self.sessions() as s:
            return _page(s, q, _created_key, limit)

    # API keys ---------------------------------------------------------------------------------

    def add_key(
        self,
        tenant_id: str,
        *,
        prefix: str,
        hashed: str,
        role: str,
        name: str = "",
        user_id: str | None = None,
        expires_at: datetime | None = None,
    ) -> ApiKey:
        if user_id is not None:
            self.get_user(tenant_id, user_id)
        key = ApiKey(
            id=new_id("k"), tenant_id=tenant_id, user_id=user_id, name=name, prefix=prefix,
            hash=hashed, role=role, expires_at=expires_at, created_at=utcnow(),
        )  # fmt: skip
        with self.sessions.begin() as s:
            s.add(key)
        return key

    def key_by_prefix(self, prefix: str) -> ApiKey | None:
        with self.sessions() as s:
            return s.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).first()

    def get_key(self, tenant_id: str, key_id: str) -> ApiKey:
        return self._scoped(ApiKey, tenant_id, key_id, "key")

    def keys(self, tenant_id: str, *, limit: int = 50, after: Cursor | None = None) -> Page[ApiKey]:
        q = _newest_first(select(ApiKey).where(ApiKey.tenant_id == tenant_id), ApiKey, after)
        with self.sessions() as s:
            return _page(s, q, _created_key, limit)

    def revoke_key(self, tenant_id: str, key_id: str) -> ApiKey:
        """Revoke a key of the tenant (again: nothing changes)."""
        return self._stamp(ApiKey, tenant_id, key_id, "key", "revoked_at")

    def touch_key(self, key_id: str, when: datetime) -> None:
        with self.sessions.begin() as s:
            s.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=when))

    # the audit log ----------------------------------------------------------------------------

    def audit(self, **entry: Any) -> None:
        """Record one mutating request (the fields of :class:`AuditEntry`)."""
        with self.sessions.begin() as s:
            s.add(AuditEntry(**entry))

    def audit_entries(
        self, tenant_id: str, *, limit: int = 50, after: int | None = None
    ) -> Page[AuditEntry]:
        q = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id)
        if after is not None:
            q = q.where(AuditEntry.id < after)
        q = q.order_by(AuditEntry.id.desc())
        with self.sessions() as s:
            return _page(s, q, lambda row: ("", str(row.id)), limit)

    # reads scoped to a tenant -----------------------------------------------------------------

    def project(self, tenant_id: str, project_id: str) -> Project:
        return self._scoped(Project, tenant_id, project_id, "project")

    def projects(
        self,
        tenant_id: str,
        *,
        limit: int = 50,
        after: Cursor | None = None,
        archived: bool | None = False,
        name: str | None = None,
        id_prefix: str | None = None,
    ) -> Page[Project]:
        """The tenant's projects, newest first; ``archived`` None: archived or not;
        ``id_prefix``: those whose id starts with it (a person's abbreviation)."""
        q = select(Project).where(Project.tenant_id == tenant_id)
        if id_prefix:
            q = q.where(Project.id.startswith(id_prefix, autoescape=True))
        if archived is not None:
            q = q.where(
                Project.archived_at.is_not(None) if archived else Project.archived_at.is_(None)
            )
        if name:
            q = q.where(Project.name.contains(name, autoescape=True))
        with self.sessions() as s:
            return _page(s, _newest_first(q, Project, after), _created_key, limit)

    def archive_project(self, tenant_id: str, project_id: str) -> Project:
        """Archive a project of the tenant (again: nothing changes)."""
        return self._stamp(Project, tenant_id, project_id, "project", "archived_at")

    def latest_brief(self, project_id: str) -> Brief:
        q = (
            select(Brief)
            .where(Brief.project_id == project_id)
            .order_by(Brief.created_at.desc(), Brief.id.desc())
        )
        with self.sessions() as s:
            brief = s.scalars(q).first()
        if brief is None:
            raise NotFound("brief", project_id)
        return brief

    def run(self, tenant_id: str, run_id: str) -> Run:
        q = (
            select(Run)
            .join(Project, Project.id == Run.project_id)
            .where(Run.id == run_id, Project.tenant_id == tenant_id)
        )
        with self.sessions() as s:
            run = s.scalars(q).first()
        if run is None:
            raise NotFound("run", run_id)
        return run

    def runs(
        self,
        tenant_id: str,
        *,
        project_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        after: Cursor | None = None,
        id_prefix: str | None = None,
    ) -> Page[Run]:
        q = (
            select(Run)
            .join(Project, Project.id == Run.project_id)
            .where(Project.tenant_id == tenant_id)
        )
        if id_prefix:
            q = q.where(Run.id.startswith(id_prefix, autoescape=True))
        if project_id:
            q = q.where(Run.project_id == project_id)
        if status:
            q = q.where(Run.status == status)
        with self.sessions() as s:
            return _page(s, _newest_first(q, Run, after), _created_key, limit)

    def events(
        self,
        run_id: str,
        *,
        since: int = 0,
        limit: int = 100,
        kinds: list[str] | None = None,
        step: str | None = None,
        task: str | None = None,
    ) -> Page[Event]:
        """A run's events in order, after sequence number ``since`` (the caller has checked
        that the run is the tenant's)."""
        q = select(Event).where(Event.run_id == run_id, Event.id > since).order_by(Event.id)
        if kinds:
            q = q.where(Event.kind.in_(kinds))
        if step:
            q = q.where(Event.step == step)
        if task:
            q = q.where(Event.task == task)
        with self.sessions() as s:
            return _page(s, q, lambda row: ("", str(row.id)), limit)

    def _stamp(
        self, model: type[Owned], tenant_id: str, ident: str, kind: str, field: str
    ) -> Owned:
        """Set the time ``field`` of a row of the tenant, unless it is set already."""
        with self.sessions.begin() as s:
            row = s.get(model, ident)
            if row is None or row.tenant_id != tenant_id:
                raise NotFound(kind, ident)
            if getattr(row, field) is None:
                setattr(row, field, utcnow())
            return row

    def _scoped(self, model: type[Owned], tenant_id: str, ident: str, kind: str) -> Owned:
        with self.sessions() as s:
            row = s.get(model, ident)
        if row is None or row.tenant_id != tenant_id:
            raise NotFound(kind, ident)
        return row
