"""The typed contract: a pydantic model for every request and answer (``XCreate`` in,
``XPublic`` out), from which the OpenAPI document is generated.

Answers carry what a client may see and nothing of the host: no repository paths, no
workspace paths, no key hashes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from vitco.api.permissions import Role
from vitco.llm.model import public_id
from vitco.workflow.brief import MAX_BRIEF_BYTES

T = TypeVar("T")

WORKFLOW_NAME = r"^[a-z][a-z0-9-]{0,62}$"
"""A template is named, never a path: a caller does not choose files on the server."""


class Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PagePublic(BaseModel, Generic[T]):
    """A page of a list; ``next_cursor`` (None on the last page) asks for the next one."""

    items: list[T]
    next_cursor: str | None = None


class ItemsPublic(BaseModel, Generic[T]):
    """A list that is short by nature (a run's tasks, its checkpoints): not paged."""

    items: list[T]


class Me(Public):
    tenant_id: str
    key_id: str
    user_id: str | None
    role: str


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brief: str = Field(
        min_length=1,
        max_length=MAX_BRIEF_BYTES,
        description="The client's brief: Markdown, optionally with front matter (docs/briefs.md).",
    )
    source: str = Field(
        default="api", max_length=200, pattern=r"^[\w .-]+$", description="Where it came from."
    )
    budget_usd: float | None = Field(default=None, ge=0, description="The project's cap.")


class ProjectPublic(Public):
    id: str
    name: str
    client: str
    budget_usd: float | None
    created_at: datetime
    archived_at: datetime | None


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow: str = Field(default="deliver-project", pattern=WORKFLOW_NAME)
    model: str | None = Field(
        default=None,
        max_length=300,
        description="A model id this server allows (its default when left out).",
    )
    budget_usd: float | None = Field(default=None, ge=0, description="Sets the project's cap.")


class GateAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000)


class RunPublic(Public):
    id: str
    project_id: str
    workflow: str
    model: Annotated[str, AfterValidator(public_id)]
    status: str
    reason: str | None
    url: str | None
    parent_run_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class DeploymentPublic(Public):
    """A project's app kept up by vitco serve, at its stable URL."""

    id: str
    project_id: str
    run_id: str = Field(description="The run that deployed what serves now.")
    url: str = Field(description="The stable URL: the same across restarts and deploys.")
    status: str = Field(description="starting, running, restarting or stopped.")
    restarts: int = Field(description="Times it was started again after it stopped by itself.")
    last_error: str | None
    created_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None = Field(description="When it was stopped on request.")


class LogPublic(BaseModel):
    lines: list[str] = Field(description="The end of the app's output, control characters escaped.")


class CheckpointPublic(BaseModel):
    checkpoint_id: str
    step: int
    after: str | None
    next: list[str]
    time: str
    done: list[str]
    cost_usd: float


class TaskPublic(Public):
    key: str
    title: str
    role: str
    complexity: int
    depends_on: list[Any]
    status: str
    attempts: int
    commit_sha: str | None
    reason: str | None


class EventPublic(BaseModel):
    """One event of a run; ``seq`` orders every event and ``since=SEQ`` resumes after it."""

    seq: int
    run_id: str
    ts: datetime
    kind: str
    step: str | None
    task: str | None
    message: str
    data: dict[str, Any] | None


class LiveEvent(EventPublic):
    """An event as the live streams (``/v1/events``) send it: with its run's project."""

    project_id: str


class CostRow(BaseModel):
    key: str
    calls: int
    input_tokens: int
    output_tokens: int
    usd: float
    cache_hits: int
    retries: int
    model_s: float


class CostsPublic(BaseModel):
    by: str
    project_id: str | None
    run_id: str | None
    rows: list[CostRow]
    total_usd: float


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    name: str = Field(default="", max_length=200)
    user_id: str | None = Field(default=None, max_length=64)
    expires_in_days: float | None = Field(default=None, gt=0, le=3650)


class KeyPublic(Public):
    id: str
    prefix: str
    name: str
    role: str
    user_id: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyPublic):
    key: str = Field(description="The key itself: shown this once, stored only as a hash.")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field(default="", max_length=200)
    role: Role


class UserPublic(Public):
    id: str
    email: str
    name: str
    role: str
    created_at: datetime


class AuditPublic(Public):
    id: int
    key_id: str | None
    user_id: str | None
    ts: datetime
    method: str
    path: str
    action: str
    status: int
    request_id: str


class BudgetSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    budget_usd: float = Field(ge=0, le=1_000_000, description="The project's new cap in USD.")


class BudgetPublic(BaseModel):
    """A project's model budget and what its runs have spent of it."""

    project_id: str
    budget_usd: float | None = Field(description="The cap; None: the server's default applies.")
    spent_usd: float
    remaining_usd: float | None


class ForkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: str = Field(
        min_length=1,
        max_length=64,
        description="A step number or a unique prefix of a checkpoint id (GET .../history).",
    )
    edits: dict[str, Any] = Field(
        default_factory=dict,
        max_length=50,
        description='State edits by dotted path: {"plan.tasks.0.title": "New title"}.',
    )
    drop_tasks: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=50, description="Tasks to remove from the plan."
    )
    model: str | None = Field(
        default=None, max_length=300, description="A model id this server allows."
    )


class ArtifactPublic(Public):
    """A typed output of a step (the spec, the plan, a test report, a review...)."""

    id: str
    kind: str
    task: str | None
    attempt: int | None
    created_at: datetime
    content: dict[str, Any]


class ReportPublic(BaseModel):
    """The delivery report of a run (what ``vitco status RUN --json`` prints), with the host's
    paths replaced by where the API serves the same things: ``repo`` is the repository's
    tar.gz, ``mail`` the delivery mail, ``delivery.artifacts`` are file names."""

    model_config = ConfigDict(extra="allow")

    status: str
    reason: str | None
    project_id: str
    run_id: str
    repo: str
    branch: str
    workflow: str
    commits: int
    tasks: list[dict[str, Any]]
    tests: dict[str, Any]
    test_runs: list[dict[str, Any]]
    toolchain: str | None
    url: str | None
    smoke_ok: bool | None
    delivery: dict[str, Any] | None
    mail: str | None
    spec_checks: list[dict[str, Any]]
    amendments: list[dict[str, Any]]
    disputes: list[dict[str, Any]]
    objections: list[dict[str, Any]]
    cost: dict[str, Any]
    budget_usd: float | None
    duration_s: float | None


class CommitPublic(BaseModel):
    """A commit a run made on its branch, with its diff (``git show --stat --patch``)."""

    sha: str
    committed_at: str
    message: str
    diff: str = Field(description="The stat and patch; binary files as git's one line.")
    truncated: bool = Field(description="The diff was longer and is cut here.")


class MailPublic(BaseModel):
    """A mail the run sent the client (a notice, the invoice, the delivery mail); ``url`` is
    where the API serves it as sent (``message/rfc822``)."""

    n: int  # its place among the run's mails, from 1, oldest first
    sent_at: datetime
    subject: str
    url: str


class EventPage(BaseModel):
    """A page of a run's stored events."""

    items: list[EventPublic]
    next_since: int  # the sequence number to ask from next
    more: bool


class LivePage(BaseModel):
    """A page of the events a live stream would send (``GET /v1/events`` without streaming)."""

    items: list[LiveEvent]
    next_since: int  # the sequence number to ask from next
    more: bool
