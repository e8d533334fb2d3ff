"""``/v1/projects/{id}/budget``: a project's model budget: read it, set it, clear it.

A run whose next model call would cross the cap pauses as ``budget_exceeded`` (never in the
middle of a call); raise the cap here, then ``POST /v1/runs/{id}/resume``: calls already made
are answered from the ledger, not paid for again.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from vitco.api.deps import ApiContext, CallerDep, Ctx
from vitco.api.paging import tagged
from vitco.api.schemas import BudgetPublic, BudgetSet

router = APIRouter(prefix="/v1", tags=["budgets"])


def _budget(ctx: ApiContext, project_id: str) -> BudgetPublic:
    cap = ctx.store.get_project(project_id).budget_usd
    spent = ctx.store.spent_usd(project_id)
    return BudgetPublic(
        project_id=project_id,
        budget_usd=cap,
        spent_usd=round(spent, 6),
        remaining_usd=None if cap is None else round(max(0.0, cap - spent), 6),
    )


@router.get("/projects/{project_id}/budget", response_model=BudgetPublic)
def get_budget(request: Request, project_id: str, caller: CallerDep, ctx: Ctx) -> Response:
    """The project's cap, what its runs spent and what is left."""
    project = ctx.access.project(caller.tenant_id, project_id)
    return tagged(request, _budget(ctx, project.id))


@router.put("/projects/{project_id}/budget", response_model=BudgetPublic)
def set_budget(project_id: str, body: BudgetSet, caller: CallerDep, ctx: Ctx) -> BudgetPublic:
    """Set the project's cap (a paused run then goes on with resume)."""
    project = ctx.access.project(caller.tenant_id, project_id)
    ctx.store.set_budget(project.id, body.budget_usd)
    return _budget(ctx, project.id)


@router.delete("/projects/{project_id}/budget", response_model=BudgetPublic)
def clear_budget(project_id: str, caller: CallerDep, ctx: Ctx) -> BudgetPublic:
    """Remove the project's cap (the server's default, ``VITCO_BUDGET_USD``, still applies)."""
    project = ctx.access.project(caller.tenant_id, project_id)
    ctx.store.set_budget(project.id, None)
    return _budget(ctx, project.id)
