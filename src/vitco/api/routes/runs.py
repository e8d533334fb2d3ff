"""``/v1/projects/{id}/runs`` and ``/v1/runs``: start a project's run, follow and steer it.

Starting, resuming and answering a gate queue a job (the worker executes it) and answer 202
with the run as it is then; the run's status and events tell how it goes on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from vitco.api.deps import ApiContext, CallerDep, Ctx
from vitco.api.exceptions import Conflict, Unprocessable
from vitco.api.paging import CursorParam, IdPrefix, Limit, decode, page, tagged
from vitco.api.schemas import (
    CheckpointPublic,
    GateAnswer,
    ItemsPublic,
    PagePublic,
    RunCreate,
    RunPublic,
    TaskPublic,
)
from vitco.integrations.git.repo import Repo
from vitco.jobs.exceptions import QueueUnavailable
from vitco.llm.exceptions import LLMError
from vitco.store.models import Project, Run
from vitco.workflow.answers import record_answer
from vitco.workflow.runner import check_workflow

router = APIRouter(prefix="/v1", tags=["runs"])

ACTIVE = frozenset({"queued", "running", "awaiting_approval"})
RESUMABLE = frozenset({"interrupted", "needs_attention", "failed", "budget_exceeded", "cancelled"})


def choose_model(ctx: ApiContext, wanted: str | None) -> str:
    """The id of the model a run uses: one the server allows (its default when none is
    asked for), resolved now so that a bad one costs nothing."""
    settings = ctx.settings
    allowed = [m for m in (settings.model, *settings.api_models) if m]
    chosen = wanted or settings.model
    if not chosen:
        raise Unprocessable("no model is configured on this server and none was asked for")
    if chosen not in allowed:
        raise Unprocessable(
            f"model {chosen!r} is not one this server lets callers choose",
            {"field": "body.model"},
        )
    try:
        return ctx.models(chosen).id
    except LLMError as exc:
        raise Unprocessable(f"model {chosen!r} cannot be used: {exc}") from exc


def refuse_if_busy(ctx: ApiContext, tenant_id: str, project_id: str) -> None:
    """409 when the project has a run going: one run of a project at a time."""
    busy = [r.id for r in ctx.access.runs(tenant_id, project_id=project_id).items
            if r.status in ACTIVE]  # fmt: skip
    if busy:
        raise Conflict(f"project {project_id} has a run going: {busy[0]}", {"run_id": busy[0]})


@router.post("/projects/{project_id}/runs", response_model=RunPublic, status_code=202)
def start(project_id: str, body: RunCreate, caller: CallerDep, ctx: Ctx) -> RunPublic:
    """Queue a run of the project with a workflow template, a model and a budget."""
    project = ctx.access.project(caller.tenant_id, project_id)
    return RunPublic.model_validate(queue_run(ctx, project, body))


def queue_run(ctx: ApiContext, project: Project, body: RunCreate, run_id: str | None = None) -> Run:
    """Queue a run of ``project`` (the tenant's: the caller checked) on its latest brief, as
    ``body`` asks; ``run_id``: the id to give it (an inbound webhook picks it first)."""
    if project.archived_at is not None:
        raise Conflict(f"project {project.id} is archived")
    refuse_if_busy(ctx, project.tenant_id, project.id)
    repo = Path(project.repo_path)
    check_workflow(ctx.settings, body.workflow, repo)
    model_id = choose_model(ctx, body.model)
    if body.budget_usd is not None:
        ctx.store.set_budget(project.id, body.budget_usd)
    brief = ctx.access.latest_brief(project.id)
    base_sha = Repo(repo).head() if Repo(repo).exists() else None  # else made by the run
    run = ctx.store.create_run(
        project.id, brief.id, model_id, body.workflow, run_id=run_id, base_sha=base_sha
    )
    try:
        ctx.queue.enqueue(run.id, "start", tenant=project.tenant_id, key=f"start:{run.id}")
    except QueueUnavailable:  # the run stays, resumable once the queue is back (503)
        ctx.store.update_run(run.id, status="interrupted", reason="the run queue was unavailable")
        raise
    ctx.runs.notify()
    return run


@router.get("/runs", response_model=PagePublic[RunPublic])
def list_runs(
    request: Request,
    caller: CallerDep,
    ctx: Ctx,
    limit: Limit = 50,
    cursor: CursorParam = None,
    project_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    id_prefix: IdPrefix = None,
) -> Response:
    """The tenant's runs, newest first; by project, status and the start of their id."""
    rows = ctx.access.runs(
        caller.tenant_id,
        project_id=project_id,
        status=status,
        limit=limit,
        after=decode(cursor),
        id_prefix=id_prefix,
    )
    return tagged(request, page(rows, RunPublic), PagePublic[RunPublic])


@router.get("/runs/{run_id}", response_model=RunPublic)
def get(request: Request, run_id: str, caller: CallerDep, ctx: Ctx) -> Response:
    return tagged(request, RunPublic.model_validate(ctx.access.run(caller.tenant_id, run_id)))


@router.post("/runs/{run_id}/cancel", response_model=RunPublic, status_code=202)
def cancel(run_id: str, caller: CallerDep, ctx: Ctx) -> RunPublic:
    """Stop a run: a queued one at once, a running one at its next step (resumable later)."""
    run = ctx.access.run(caller.tenant_id, run_id)
    if run.status not in ACTIVE:
        raise Conflict(f"run {run_id} is {run.status}: there is nothing to cancel")
    ctx.queue.cancel(run.id)
    if not ctx.runs.cancel(run.id):  # not executing here: it is stopped where it stands
        run = ctx.store.update_run(run.id, status="cancelled", reason="cancelled on request")
        ctx.store.add_event(run.id, "run", f"run {run.id} cancelled")
    return RunPublic.model_validate(ctx.access.run(caller.tenant_id, run_id))


def _queue(
    ctx: ApiContext, tenant_id: str, run: Run, action: str, payload: dict[str, Any] | None
) -> Run:
    if action == "answer" and payload is not None:  # kept until the gate has taken it
        record_answer(ctx.store, run.id, payload)
    ctx.store.update_run(run.id, status="queued", reason=None)
    try:
        ctx.queue.enqueue(
            run.id, "resume" if action == "resume" else "answer", payload, tenant=tenant_id
        )
    except QueueUnavailable:  # the run is left as it was (503): nothing is lost
        ctx.store.update_run(run.id, status=run.status, reason=run.reason)
        raise
    ctx.runs.notify()
    return ctx.store.get_run(run.id)


def queue_answer(ctx: ApiContext, tenant_id: str, run: Run, answer: dict[str, Any]) -> Run:
    """Queue ``answer`` to the gate ``run`` waits at (an approval, a payment webhook)."""
    return _queue(ctx, tenant_id, run, "answer", answer)


@router.post("/runs/{run_id}/resume", response_model=RunPublic, status_code=202)
def resume(run_id: str, caller: CallerDep, ctx: Ctx) -> RunPublic:
    """Continue a stopped run from its last checkpoint (nothing done is done again)."""
    run = ctx.access.run(caller.tenant_id, run_id)
    if run.status not in RESUMABLE:
        raise Conflict(f"run {run_id} is {run.status}: it cannot be resumed")
    return RunPublic.model_validate(_queue(ctx, caller.tenant_id, run, "resume", None))


def _answer(
    run_id: str, approved: bool, body: GateAnswer | None, caller: CallerDep, ctx: Ctx
) -> RunPublic:
    run = ctx.access.run(caller.tenant_id, run_id)
    if run.status != "awaiting_approval":
        raise Conflict(f"run {run_id} is {run.status}, not awaiting approval")
    answer = {"approved": approved, "reason": body.reason if body else None}
    return RunPublic.model_validate(_queue(ctx, caller.tenant_id, run, "answer", answer))


@router.post("/runs/{run_id}/approve", response_model=RunPublic, status_code=202)
def approve(run_id: str, caller: CallerDep, ctx: Ctx, body: GateAnswer | None = None) -> RunPublic:
    """Approve what a run waiting at a gate asks for: it goes on."""
    return _answer(run_id, True, body, caller, ctx)


@router.post("/runs/{run_id}/reject", response_model=RunPublic, status_code=202)
def reject(run_id: str, caller: CallerDep, ctx: Ctx, body: GateAnswer | None = None) -> RunPublic:
    """Reject what a run waiting at a gate asks for: it stops."""
    return _answer(run_id, False, body, caller, ctx)


@router.get("/runs/{run_id}/history", response_model=ItemsPublic[CheckpointPublic])
def history(request: Request, run_id: str, caller: CallerDep, ctx: Ctx) -> Response:
    """The run's checkpoints: step, node, time and the cost so far."""
    from vitco.workflow.timetravel import checkpoints

    run = ctx.access.run(caller.tenant_id, run_id)
    rows = checkpoints(ctx.settings, ctx.store, run.id)
    return tagged(request, {"items": rows}, ItemsPublic[CheckpointPublic])


@router.get("/runs/{run_id}/tasks", response_model=ItemsPublic[TaskPublic])
def tasks(request: Request, run_id: str, caller: CallerDep, ctx: Ctx) -> Response:
    """The run's tasks (the plan), with status, attempts and commit."""
    run = ctx.access.run(caller.tenant_id, run_id)
    return tagged(request, {"items": ctx.store.tasks(run.id)}, ItemsPublic[TaskPublic])
