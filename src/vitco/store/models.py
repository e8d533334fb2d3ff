"""SQLAlchemy 2 models: tenants, projects, briefs, runs, tasks, events, model calls, artifacts;
and for ``vitco serve``: users, API keys, the audit log, the run queue and deployments.

Workflow state (the LangGraph checkpoint) holds ids that point here; texts and code live in
``Artifact`` rows, the cost ledger in ``ModelCall`` rows, and side effects that must happen once
(commit, deploy, mail) are recorded in ``Effect`` rows keyed by an idempotency key.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def new_id(prefix: str) -> str:
    """A short random id with a readable prefix, e.g. ``r-3f9a2c1b7d04``."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Project(Base):
    """A client's project.

    ``sandbox_slot`` is the project's own small number, unique across all projects: its
    sandboxed code runs as uid ``first + sandbox_slot`` of vitco's subordinate uid range (see
    ``vitco.sandbox.identity``), so no two projects share a uid.
    """

    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("sandbox_slot", name="uq_projects_sandbox_slot"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    repo_path: Mapped[str] = mapped_column(Text)
    client: Mapped[str] = mapped_column(Text, default="")
    budget_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    sandbox_slot: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Brief(Base):
    __tablename__ = "briefs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    source: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    brief_id: Mapped[str] = mapped_column(ForeignKey("briefs.id"))
    workflow: Mapped[str] = mapped_column(String(100), default="deliver-project")
    branch: Mapped[str] = mapped_column(String(200), default="main")
    base_sha: Mapped[str | None] = mapped_column(String(64), nullable=True)
    parent_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    fork_checkpoint: Mapped[str | None] = mapped_column(String(100), nullable=True)
    model: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(32), default="queued", index=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_run_key", "run_id", "key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(32))
    complexity: Mapped[int] = mapped_column(Integer)
    depends_on: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(32), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    commit_sha: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64), nullable=True)
    task: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # the execution of the step that wrote it (``Store._write``); none outside a step
    execution: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ModelCall(Base):
    """One row of the cost ledger: one request that reached a provider (or the response
    cache), whatever its ``outcome`` (see ``vitco.llm.meter.OUTCOMES``); the answered ones
    (``response`` not empty) are also the journal that makes a resumed call free."""

    __tablename__ = "model_calls"
    __table_args__ = (Index("ix_model_calls_run_key", "run_id", "call_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    call_key: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(64))
    task: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    repair: Mapped[int] = mapped_column(Integer, default=0)
    tier: Mapped[str | None] = mapped_column(String(16), nullable=True)
    model: Mapped[str] = mapped_column(String(300))
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_s: Mapped[float] = mapped_column(Float, default=0.0)
    cache_hit: Mapped[bool] = mapped_column(default=False)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    response: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16), default="ok", server_default="ok")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    max_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Artifact(Base):
    """A typed output or a record a step produced (spec, plan, changeset, test result...)."""

    __tablename__ = "artifacts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    task: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempt: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # the execution of the step that wrote it (``vitco.store.artifacts``); none outside a step
    execution: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Effect(Base):
    """A side effect done once: the idempotency key and what it produced."""

    __tablename__ = "effects"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RunLeaseRow(Base):
    """The lease of a run in the database (``vitco.leases.sql``): who executes it until when.
    Times are epoch seconds on the database server's clock; ``owner`` is empty once released,
    and the row stays so that ``token`` keeps rising (it is the fencing token)."""

    __tablename__ = "run_leases"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    token: Mapped[int] = mapped_column(BigInteger)
    acquired_at: Mapped[float] = mapped_column(Float(precision=53))
    heartbeat_at: Mapped[float] = mapped_column(Float(precision=53))
    expires_at: Mapped[float] = mapped_column(Float(precision=53), index=True)


class RunFence(Base):
    """The newest lease token that has driven a run (whatever the lease backend): writes for
    the run that carry an older token are refused (``Store.fenced``)."""

    __tablename__ = "run_fences"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger)


class User(Base):
    """A person (or a system) of a tenant; API keys may be issued in their name."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "email", name="uq_users_tenant_email"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiKey(Base):
    """An API key: only its argon2 hash is kept; ``prefix`` (unique, shown in listings and
    part of the key itself) finds the row to verify against."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AuditEntry(Base):
    """One mutating API request: who (key, user), what (method, route, target), when, the
    tenant, and the status it was answered with."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str] = mapped_column(String(64))


class RunJob(Base):
    """Work for a worker: start, resume or answer the gate of a run. Taken by one worker at a
    time (``status`` queued -> taken -> done/failed/cancelled) for a lease that ends at
    ``lease_until`` unless renewed; ``attempt`` counts the takes (a fencing number: an ack of
    an older take is refused). ``key``: an idempotent enqueue's (one job per key)."""

    __tablename__ = "run_jobs"
    __table_args__ = (
        Index("ix_run_jobs_status_id", "status", "id"),
        Index("ix_run_jobs_key", "key", unique=True),
        Index("ix_run_jobs_tenant_taken", "tenant_id", "taken_at"),
        Index("ix_run_jobs_status_priority_tenant", "status", "priority", "tenant_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    worker: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    tenant_id: Mapped[str] = mapped_column(String(64), default="default", server_default="default")
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    key: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Deployment(Base):
    """A delivered app that ``vitco serve`` keeps running: one per project, at a stable URL
    (``http://127.0.0.1:<port>``, the port kept for good) whatever run deployed it last.

    ``root``, ``toolchain`` and ``plan`` say how to start it again (the checkout it runs from,
    the toolchain and DevOps' plan). ``status``: ``starting``, ``running``, ``restarting``
    (it crashed or could not start; tried again), ``stopped`` (on request: never brought
    back; ``stopped_at`` says when). ``pid`` and ``log_path`` are the current process's.
    """

    __tablename__ = "deployments"
    __table_args__ = (
        UniqueConstraint("project_id", name="uq_deployments_project_id"),
        UniqueConstraint("port", name="uq_deployments_port"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    port: Mapped[int] = mapped_column(Integer)
    root: Mapped[str] = mapped_column(Text)
    toolchain: Mapped[str] = mapped_column(String(64))
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="starting")
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    log_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
