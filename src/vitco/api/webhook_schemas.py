"""The typed contract of webhooks: what a sender posts to ``/v1/hooks/{source}`` (the parts
vitco reads of it), what it is answered, and the subscriptions of outbound webhooks.

A subscription's or a source's secret is in an answer once, when vitco makes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vitco.api.schemas import WORKFLOW_NAME, Public
from vitco.workflow.brief import MAX_BRIEF_BYTES

Source = Literal["generic", "github", "stripe"]
SOURCES: tuple[Source, ...] = ("generic", "github", "stripe")
EventKind = Annotated[str, Field(pattern=r"^(\*|[a-z][a-z0-9_.-]{0,63})$")]

# in ------------------------------------------------------------------------------------------


class HookBrief(BaseModel):
    """The body of ``POST /v1/hooks/generic``: a brief that becomes a project (and its run)."""

    model_config = ConfigDict(extra="forbid")

    brief: str = Field(min_length=1, max_length=MAX_BRIEF_BYTES)
    source: str = Field(default="webhook", max_length=200, pattern=r"^[\w .-]+$")
    budget_usd: float | None = Field(default=None, ge=0)
    workflow: str = Field(default="deliver-project", pattern=WORKFLOW_NAME)
    start: bool = Field(default=True, description="Queue a run of the new project.")


class GithubLabel(BaseModel):
    name: str = Field(max_length=200)


class GithubIssue(BaseModel):
    number: int
    title: str = Field(max_length=1000)
    body: str | None = None
    html_url: str = Field(default="", max_length=2000)
    labels: list[GithubLabel] = Field(default_factory=list, max_length=200)


class GithubRepository(BaseModel):
    full_name: str = Field(max_length=300)


class GithubIssueEvent(BaseModel):
    """The parts of GitHub's ``issues`` event vitco reads."""

    action: str = Field(max_length=50)
    issue: GithubIssue
    repository: GithubRepository
    label: GithubLabel | None = None


class StripeObject(BaseModel):
    metadata: dict[str, str] = Field(default_factory=dict)
    amount_total: int | None = None
    amount_received: int | None = None
    amount_paid: int | None = None
    currency: str | None = Field(default=None, max_length=10)
    payment_status: str | None = Field(default=None, max_length=40)  # a Checkout Session's


class StripeData(BaseModel):
    object: StripeObject


class StripeEvent(BaseModel):
    """The parts of a Stripe event vitco reads."""

    id: str = Field(min_length=1, max_length=200)
    type: str = Field(max_length=100)
    data: StripeData


class HookAnswer(BaseModel):
    """What an accepted (or replayed, or ignored) delivery is answered."""

    source: Source
    delivery_id: str
    status: Literal["accepted", "ignored"]
    duplicate: bool = Field(description="A replay of a delivery accepted before: nothing done.")
    project_id: str | None
    run_id: str | None
    detail: str | None


class HookSecretSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="The secret the sender signs with (Stripe's whsec_...); left out, vitco "
        "makes one and answers it this once.",
    )


class HookSourcePublic(Public):
    source: str
    created_at: datetime


class HookSourceCreated(HookSourcePublic):
    path: str = Field(description="Where the sender posts (the tenant is in the query).")
    secret: str | None = Field(description="The secret vitco made (shown this once), or None.")


class HookDeliveryPublic(Public):
    id: int
    source: str
    delivery_id: str
    event: str
    ref: str | None
    status: str
    detail: str | None
    project_id: str | None
    run_id: str | None
    received_at: datetime
    done_at: datetime | None


# out -----------------------------------------------------------------------------------------


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000, description="http(s) URL to POST to.")
    events: list[EventKind] = Field(
        min_length=1,
        max_length=50,
        description="Event kinds to send (run, step, deploy, mail, error, payment...), or *.",
    )
    description: str = Field(default="", max_length=200)


class WebhookPublic(Public):
    id: str
    url: str
    events: list[str]
    description: str
    created_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="Signs each delivery (X-Vitco-Signature); shown this once.")


class AttemptPublic(Public):
    number: int
    at: datetime
    duration_s: float
    status_code: int | None
    error: str | None


class WebhookDeliveryPublic(Public):
    id: int
    event_seq: int
    event_type: str
    status: str
    attempts: int
    next_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    payload: dict[str, Any]
    tries: list[AttemptPublic] = Field(default_factory=list)
