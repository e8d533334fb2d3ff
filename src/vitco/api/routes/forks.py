"""``/v1/runs/{id}/fork``: a new run from a checkpoint of another, with changed state.

The fork is a run of the same project on its own branch, starting at the commit the original
run had at that checkpoint; edits to the spec or plan become the fork's own artifacts, the
original run is never touched (``vitco.workflow.timetravel``). It is queued like a resumed
run (202) and executed by the worker.
"""

from __future__ import annotations

from fastapi import APIRouter

from vitco.api.deps import CallerDep, Ctx
from vitco.api.routes.runs import choose_model, refuse_if_busy
from vitco.api.schemas import ForkCreate, RunPublic

router = APIRouter(prefix="/v1", tags=["runs"])


@router.post("/runs/{run_id}/fork", response_model=RunPublic, status_code=202)
def fork(run_id: str, body: ForkCreate, caller: CallerDep, ctx: Ctx) -> RunPublic:
    """Fork the run at a checkpoint (a step number or a checkpoint id's prefix) with edits."""
    from vitco.workflow.checkpoint_ids import pick_checkpoint
    from vitco.workflow.timetravel import checkpoints, fork_run

    run = ctx.access.run(caller.tenant_id, run_id)
    refuse_if_busy(ctx, caller.tenant_id, run.project_id)
    model_id = choose_model(ctx, body.model) if body.model else None
    at = pick_checkpoint(run.id, checkpoints(ctx.settings, ctx.store, run.id), body.at)
    forked = fork_run(
        ctx.settings,
        ctx.store,
        run.id,
        at,
        edits=body.edits,
        drop_tasks=body.drop_tasks,
        model_id=model_id,
    )
    ctx.store.update_run(forked.run_id, status="queued", reason=None)
    ctx.store.add_event(forked.run_id, "run", f"run {forked.run_id} forked from {run.id} at {at}")
    ctx.queue.enqueue(forked.run_id, "resume", tenant=caller.tenant_id)
    ctx.runs.notify()
    return RunPublic.model_validate(ctx.store.get_run(forked.run_id))
