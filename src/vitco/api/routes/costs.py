"""``/v1/costs``: the cost ledger, grouped, for the tenant, a project or a run."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from vitco.api.deps import CallerDep, Ctx
from vitco.api.paging import tagged
from vitco.api.schemas import CostRow, CostsPublic

router = APIRouter(prefix="/v1", tags=["costs"])

By = Literal["project", "run", "role", "tier", "model", "day"]


@router.get("/costs", response_model=CostsPublic)
def costs(
    request: Request,
    caller: CallerDep,
    ctx: Ctx,
    by: By = "role",
    project_id: Annotated[str | None, Query(max_length=64)] = None,
    run_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """What model calls cost, grouped by ``by``; the tenant's, a project's or a run's."""
    if project_id:
        ctx.access.project(caller.tenant_id, project_id)
    if run_id:
        ctx.access.run(caller.tenant_id, run_id)
    rows = ctx.store.cost_breakdown(
        by=by, project_id=project_id, run_id=run_id, tenant_id=caller.tenant_id
    )
    body = CostsPublic(
        by=by,
        project_id=project_id,
        run_id=run_id,
        rows=[CostRow.model_validate(r) for r in rows],
        total_usd=round(sum(r["usd"] for r in rows), 6),
    )
    return tagged(request, body)
