"""Inbound webhooks: ``POST /v1/hooks/{source}?tenant=T``, no API key; the signature is the
credential, with the secret tenant ``T`` shares with that source.

The boundary, in order:

1. The signature is checked over the exact bytes received, before anything is parsed or
   stored: missing, malformed, wrong, too old (stripe, generic), an unknown tenant or one
   with no secret for the source are all the same 401 and nothing is written.
2. The payload is parsed (a 422 names the field at fault; nothing is written) and what to do
   is decided (``Action``), still without writing.
4. A brief's first delivery (a project to make) is claimed, made and answered in ONE
   transaction: the delivery's row (already ``accepted``), the project, its brief, its run
   and, on the store's queue, the run's job. A 2xx means it is committed; a crash before the
   commit leaves nothing, and the sender's redelivery does it all. A delivery id claimed
   before makes the insert of its row fail and the transaction roll back; then, and for
   anything else (a payment, a bug report on a linked project, the Redis queue, whose job
   cannot join the transaction), it goes as follows.
5. The delivery id is claimed first (``WebhookStore.claim``, its own commit): a replay of
   one accepted or ignored before is answered 200 with what it did then (``duplicate``),
   nothing is done again. The project, its brief and its run are made in one transaction
   under the ids the claim picked, then the run's job is queued and the delivery marked
   ``accepted``; each write is committed before the answer, so a 2xx means it is stored. A
   crash in between leaves the delivery ``received``: the sender's redelivery (after the
   claim's lease) makes the same ids, skipping what exists (a run with no job gets one).

One transaction instead of four (claim, project, job, ending) cut an accept's statements
from 8 to 7 and its commits from 4 to 1: each commit of SQLite takes the database's write
lock, for which the worker's executions wait. On SQLite the deliveries that arrive together
share one such transaction (``vitco.api.hook_batches``: ``at_once`` checks each before any
write, ``store_at_once`` writes each in the batch's transaction).

Sources:

- ``generic`` (Standard Webhooks headers, see ``vitco.integrations.webhooks.signing``): a
  brief (``HookBrief``) becomes a project and, unless ``start`` is false, a queued run.
- ``github`` (``X-Hub-Signature-256``, ``X-GitHub-Event``, ``X-GitHub-Delivery``; the
  delivery's identity is the hash of the signed body, since the delivery header is not): an
  ``issues`` event that labels an issue ``vitco`` (or opens one with that label). The first
  such issue of a repository makes a project from the issue; later ones, while that project
  stands, are ``fix-bug`` runs on it. Anything else (``ping``, other events) is ignored.
- ``stripe`` (``Stripe-Signature``; the event id is the delivery id): a paid checkout,
  payment intent or invoice whose metadata names ``vitco_project_id`` (a project of the
  tenant) is recorded on the project (a ``payment`` event of its latest run, and the
  project's payment, once); a run of it waiting at a payment gate goes on (the gate checks
  the amount against the invoice). Others: ignored.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from vitco.api.deps import ApiContext
from vitco.api.exceptions import Conflict
from vitco.api.routes.runs import choose_model, queue_answer, queue_run
from vitco.api.schemas import RunCreate
from vitco.api.webhook_schemas import (
    GithubIssueEvent,
    HookAnswer,
    HookBrief,
    Source,
    StripeEvent,
)
from vitco.integrations.webhooks import BadSignature, verify_hub, verify_standard
from vitco.integrations.webhooks.signing import verify_timestamped
from vitco.jobs.queue import StoreRunQueue
from vitco.store.exceptions import NotFound
from vitco.store.models import new_id
from vitco.store.repo import NewRun, ProjectRows
from vitco.store.webhook_models import HookDelivery
from vitco.store.webhooks import Accepted
from vitco.workflow.brief import MAX_BRIEF_BYTES, parse_brief
from vitco.workflow.payment_steps import WAITING, record_payment
from vitco.workflow.runner import check_workflow, create_project, project_rows

LABEL = "vitco"
PAID = frozenset({
    "checkout.session.completed", "checkout.session.async_payment_succeeded",
    "payment_intent.succeeded", "invoice.paid",
})  # fmt: skip
SETTLED = (None, "paid", "no_payment_required")
"""A Checkout Session's ``payment_status`` that means the money is there: a delayed method
(a bank debit) completes the session ``unpaid`` and pays later, with
``checkout.session.async_payment_succeeded``."""


@dataclass(frozen=True)
class NewProject:
    brief: str
    source: str
    workflow: str = "deliver-project"
    budget_usd: float | None = None
    start: bool = True


@dataclass(frozen=True)
class Payment:
    project_id: str
    amount: int | None
    currency: str | None
    event: str = ""


@dataclass(frozen=True)
class Ignore:
    reason: str


Action = NewProject | Payment | Ignore


@dataclass(frozen=True)
class Delivery:
    """A delivery whose signature verified, and what to do about it."""

    source: Source
    delivery_id: str
    event: str
    ref: str | None
    action: Action


class Invalid(ValueError):
    """A payload that is not what the source sends (422, field paths in ``errors``)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__(str(errors))


def _parse(model: type[BaseModel], body: bytes) -> Any:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise Invalid(
            [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
        ) from exc


def _check(source: Source, secret: str | None, body: bytes, headers: Mapping[str, str],
           now: float, tolerance_s: float) -> str | None:  # fmt: skip
    """Verify the signature; the delivery id when the scheme signs it (generic)."""
    # without a secret (no such tenant, or none for this source) a wrong one is checked, so
    # that the answer and its time say nothing about which it was
    key = secret if secret is not None else "\0no secret"
    signed_id = None
    if source == "generic":
        signed_id = verify_standard(key, body, headers, now=now, tolerance_s=tolerance_s)
    elif source == "github":
        verify_hub(key, body, headers.get("x-hub-signature-256"), scheme="github")
    else:
        verify_timestamped(
            key, body, headers.get("stripe-signature"), now=now, tolerance_s=tolerance_s,
            scheme="stripe",
        )  # fmt: skip
    if secret is None:
        raise BadSignature(source, "does not match the body")
    return signed_id


def read(
    source: Source,
    secret: str | None,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float | None = None,
    tolerance_s: float = 300.0,
) -> Delivery:
    """Verify and parse a delivery (``headers`` with lower-case names). Raises
    ``BadSignature`` (401) or ``Invalid`` (422); writes nothing."""
    signed_id = _check(source, secret, body, headers, time.time() if now is None else now,
                       tolerance_s)  # fmt: skip
    if source == "generic":
        hook: HookBrief = _parse(HookBrief, body)
        action = NewProject(hook.brief, hook.source, hook.workflow, hook.budget_usd, hook.start)
        return Delivery(source, str(signed_id), "brief", None, action)
    if source == "github":
        return _github(body, headers)
    return _stripe(body)


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value or len(value) > 200:
        raise Invalid([{"loc": ("header", name), "msg": "missing or too long", "type": "value"}])
    return value


def github_delivery_id(body: bytes) -> str:
    """The identity of a GitHub delivery: the hash of the signed body. GitHub's own
    ``X-GitHub-Delivery`` is not signed, so a captured delivery sent again under a new id would
    otherwise act twice; a redelivery of the same event has the same body."""
    return "sha256:" + hashlib.sha256(body).hexdigest()[:40]


def _github(body: bytes, headers: Mapping[str, str]) -> Delivery:
    _header(headers, "x-github-delivery")  # required, as GitHub always sends it
    delivery_id = github_delivery_id(body)
    event = _header(headers, "x-github-event")
    if event != "issues":
        return Delivery(
            "github", delivery_id, event, None, Ignore(f"{event} events are not acted on")
        )
    issue_event: GithubIssueEvent = _parse(GithubIssueEvent, body)
    issue, repo = issue_event.issue, issue_event.repository.full_name
    labels = {label.name.lower() for label in issue.labels}
    labelled = issue_event.action == "labeled" and (
        issue_event.label is not None and issue_event.label.name.lower() == LABEL
    )
    opened = issue_event.action in ("opened", "reopened") and LABEL in labels
    name = f"issues.{issue_event.action}"
    if not (labelled or opened):
        return Delivery("github", delivery_id, name, repo, Ignore(f"not labelled {LABEL!r}"))
    text = f"# {issue.title.strip() or 'Issue'}\n\n{(issue.body or '').strip()}\n"
    text = text[: MAX_BRIEF_BYTES - 500] + f"\n\nGitHub issue {repo}#{issue.number}"
    if issue.html_url:
        text += f": {issue.html_url}"
    source = f"github {repo}#{issue.number}"  # the deliver step comments on that issue
    return Delivery("github", delivery_id, name, repo, NewProject(text, source))


def _stripe(body: bytes) -> Delivery:
    event: StripeEvent = _parse(StripeEvent, body)
    paid = event.data.object
    project_id = paid.metadata.get("vitco_project_id")
    if event.type not in PAID:
        return Delivery("stripe", event.id, event.type, None, Ignore("not a payment vitco reads"))
    if not project_id:
        return Delivery("stripe", event.id, event.type, None, Ignore("no vitco_project_id"))
    if paid.payment_status not in SETTLED:
        why = f"checkout complete but {paid.payment_status}: its payment is not there yet"
        return Delivery("stripe", event.id, event.type, project_id, Ignore(why))
    amount = next(
        (a for a in (paid.amount_total, paid.amount_received, paid.amount_paid) if a is not None),
        None,
    )
    return Delivery(
        "stripe",
        event.id,
        event.type,
        project_id,
        Payment(project_id, amount, paid.currency, event.id),
    )


def accept(ctx: ApiContext, tenant_id: str, delivery: Delivery) -> tuple[int, HookAnswer]:
    """Claim ``delivery`` and act on it, durably, before the caller answers (module
    docstring): 202 accepted, 200 ignored or a replay."""
    ready = at_once(ctx, tenant_id, delivery)
    if ready is not None:
        try:
            with ctx.store.engine.begin() as conn:
                store_at_once(ctx, conn, [ready])
        except IntegrityError:  # claimed before (a replay, a redelivery): the claim's path
            pass
        else:
            if ready.first is not None:
                ctx.runs.notify()
            return 202, ready.answer()
    claim = ctx.hooks.claim(
        tenant_id, delivery.source, delivery.delivery_id, delivery.event, ref=delivery.ref
    )
    row = claim.delivery
    if claim.state == "done":
        return 200, answer(row, duplicate=True)
    if claim.state == "busy":
        raise Conflict(
            f"delivery {delivery.delivery_id} is being accepted; send it again later",
            {"delivery_id": delivery.delivery_id},
        )
    try:
        status, detail, project_id, run_id = _act(
            ctx, tenant_id, row, delivery, fresh=claim.state == "new"
        )
    except Exception as exc:
        ctx.hooks.finish(row.id, "refused", f"{type(exc).__name__}: {exc}"[:2000])
        raise
    done = ctx.hooks.finish(row.id, status, detail, project_id=project_id, run_id=run_id)
    return (202 if status == "accepted" else 200), answer(done)


@dataclass(frozen=True)
class AtOnce:
    """A new project's delivery, checked and given its ids, to be claimed, made and accepted
    in one transaction (``store_at_once``; module docstring)."""

    delivery: Delivery
    project: ProjectRows
    queue: StoreRunQueue

    @property
    def first(self) -> NewRun | None:
        """Its first run (None: the brief asks for the project only)."""
        return self.project.run

    def answer(self) -> HookAnswer:
        """What the sender is told once it is stored."""
        first = self.first
        return HookAnswer(
            source=self.delivery.source,
            delivery_id=self.delivery.delivery_id,
            status="accepted",
            duplicate=False,
            project_id=self.project.project_id,
            run_id=first.run_id if first is not None else None,
            detail=None if first is not None else NO_RUN,
        )


NO_RUN = "project made; no run started"


def at_once(ctx: ApiContext, tenant_id: str, delivery: Delivery) -> AtOnce | None:
    """``delivery`` ready to be accepted in one transaction, writing nothing yet; None when
    it is not to be done so: not a new project's brief, the queue is not in the store's
    database, or the brief, workflow or model is refused (the claim's path records the
    refusal)."""
    action = delivery.action
    if not isinstance(action, NewProject) or delivery.ref is not None:
        return None
    queue = ctx.queue
    if not isinstance(queue, StoreRunQueue) or queue.sessions.kw["bind"] is not ctx.store.engine:
        return None
    project_id = new_id("p")
    try:
        brief = parse_brief(action.brief, action.source)
        first = None
        if action.start:
            check_workflow(ctx.settings, action.workflow, ctx.settings.projects_dir / project_id)
            first = NewRun(choose_model(ctx, None), action.workflow, run_id=new_id("r"))
    except Exception:
        return None
    project = project_rows(
        ctx.settings, brief, tenant_id=tenant_id, project_id=project_id,
        budget_usd=action.budget_usd, run=first,
    )  # fmt: skip
    return AtOnce(delivery, project, queue)


def store_at_once(ctx: ApiContext, conn: Connection, batch: Sequence[AtOnce]) -> None:
    """Write what each of ``batch`` makes in ``conn``'s transaction, one INSERT of many rows
    per table: the projects, their briefs and runs, the deliveries' rows (accepted), the
    runs' jobs. An ``IntegrityError`` when a delivery id was claimed before (or a sandbox
    slot was just taken): the transaction is the caller's to roll back. The caller wakes
    the worker (``ctx.runs.notify``) after the commit."""
    if not batch:
        return
    ctx.store.open_projects(conn, [ready.project for ready in batch])
    ctx.hooks.accepted(conn, [
        Accepted(
            ready.project.tenant_id, ready.delivery.source, ready.delivery.delivery_id,
            ready.delivery.event, ready.project.project_id,
            ready.first.run_id if ready.first is not None else None,
            None if ready.first is not None else NO_RUN,
        )
        for ready in batch
    ])  # fmt: skip
    jobs = [
        (ready.first.run_id, ready.project.tenant_id, f"start:{ready.first.run_id}")
        for ready in batch
        if ready.first is not None and ready.first.run_id is not None
    ]
    batch[0].queue.enqueue_all_in(conn, jobs)


def _act(
    ctx: ApiContext, tenant_id: str, row: HookDelivery, delivery: Delivery, *, fresh: bool
) -> tuple[str, str | None, str | None, str | None]:
    """Do what ``delivery`` asks; ``fresh``: the first try of it (the ids its claim picked
    name nothing yet, so nothing is looked up under them)."""
    action = delivery.action
    if isinstance(action, Ignore):
        return "ignored", action.reason, None, None
    if isinstance(action, Payment):
        return _payment(ctx, tenant_id, action)
    assert row.project_id is not None and row.run_id is not None
    linked = None
    if delivery.source == "github" and delivery.ref:
        linked = ctx.hooks.linked_project(tenant_id, "github", delivery.ref)
    if linked is not None and linked != row.project_id:  # a bug report on its project
        project = ctx.access.project(tenant_id, linked)
        if not _exists_run(ctx, tenant_id, row.run_id):
            ctx.store.create_brief(project.id, action.source[:200], action.brief)
        run = _start(ctx, project.id, tenant_id, row.run_id, "fix-bug", None)
        return "accepted", f"fix-bug run on {project.id}", project.id, run
    try:
        if fresh:
            raise NotFound("project", row.project_id)
        project = ctx.access.project(tenant_id, row.project_id)
    except NotFound:  # the first try: the project, its brief and run in one transaction
        brief = parse_brief(action.brief, action.source)
        first = None
        if action.start:
            repo = ctx.settings.projects_dir / row.project_id  # a path to come: none is made
            check_workflow(ctx.settings, action.workflow, repo)
            first = NewRun(choose_model(ctx, None), action.workflow, run_id=row.run_id)
        create_project(
            ctx.store, ctx.settings, brief, tenant_id=tenant_id, project_id=row.project_id,
            budget_usd=action.budget_usd, run=first,
        )  # fmt: skip
        if first is not None:
            ctx.queue.enqueue(row.run_id, "start", tenant=tenant_id, key=f"start:{row.run_id}")
            ctx.runs.notify()
            return "accepted", None, row.project_id, row.run_id
        return "accepted", NO_RUN, row.project_id, None
    if not action.start:
        return "accepted", NO_RUN, project.id, None
    run = _start(ctx, project.id, tenant_id, row.run_id, action.workflow, action.budget_usd)
    return "accepted", None, project.id, run


def _exists_run(ctx: ApiContext, tenant_id: str, run_id: str) -> bool:
    try:
        ctx.access.run(tenant_id, run_id)
    except NotFound:
        return False
    return True


def _start(
    ctx: ApiContext, project_id: str, tenant_id: str, run_id: str, workflow: str,
    budget_usd: float | None,
) -> str:  # fmt: skip
    """Queue run ``run_id`` of the project, unless an earlier try did."""
    if _exists_run(ctx, tenant_id, run_id):
        if not ctx.hooks.has_job(run_id):
            ctx.queue.enqueue(run_id, "start", tenant=tenant_id, key=f"start:{run_id}")
            ctx.runs.notify()
        return run_id
    project = ctx.access.project(tenant_id, project_id)
    body = RunCreate(workflow=workflow, budget_usd=budget_usd)
    return queue_run(ctx, project, body, run_id=run_id).id


def _payment(
    ctx: ApiContext, tenant_id: str, paid: Payment
) -> tuple[str, str | None, str | None, str | None]:
    try:
        project = ctx.access.project(tenant_id, paid.project_id)
    except NotFound:
        return "ignored", f"no project {paid.project_id!r}", None, None
    amount = "an amount not given" if paid.amount is None else f"{paid.amount / 100:.2f}"
    what = f"payment received: {amount} {(paid.currency or '').upper()}".strip()
    runs = ctx.access.runs(tenant_id, project_id=project.id, limit=1).items
    if runs:
        run = runs[0]
        data = {"amount": paid.amount, "currency": paid.currency}
        ctx.store.add_event(run.id, "payment", what, data=data, now=True)
        record_payment(ctx.store, run.id, project.id, paid.amount, paid.currency, paid.event)
        if run.status == "awaiting_approval" and (run.reason or "").startswith(WAITING):
            queue_answer(
                ctx, tenant_id, run, {"paid": True, "reason": what}
            )  # the gate checks the amount
            what += f"; run {run.id} goes on"
    return "accepted", what, project.id, runs[0].id if runs else None


def answer(row: HookDelivery, *, duplicate: bool = False) -> HookAnswer:
    """What the sender is told of ``row``."""
    status = "accepted" if row.status == "accepted" else "ignored"
    return HookAnswer(
        source=row.source,
        delivery_id=row.delivery_id,
        status=status,
        duplicate=duplicate,
        project_id=row.project_id if status == "accepted" else None,
        run_id=row.run_id if status == "accepted" else None,
        detail=row.detail,
    )
