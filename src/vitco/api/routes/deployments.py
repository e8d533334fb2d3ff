"""``/v1/deployments``: the apps vitco serve keeps up, each at its stable URL; read them, read
an app's log, stop one (it stays stopped until the project is deployed again)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from vitco.api.deps import CallerDep, Ctx
from vitco.api.paging import CursorParam, Limit, decode, page, tagged
from vitco.api.schemas import DeploymentPublic, LogPublic, PagePublic
from vitco.deployments.logs import tail
from vitco.store.deployments import STATUSES

router = APIRouter(prefix="/v1", tags=["deployments"])


@router.get("/deployments", response_model=PagePublic[DeploymentPublic])
def list_deployments(
    request: Request,
    caller: CallerDep,
    ctx: Ctx,
    limit: Limit = 50,
    cursor: CursorParam = None,
    project_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=16, description=", ".join(STATUSES))] = None,
) -> Response:
    """The tenant's deployments, newest first; by project and status."""
    rows = ctx.supervisor.rows.page(
        caller.tenant_id, project_id=project_id, status=status, limit=limit, after=decode(cursor)
    )
    return tagged(request, page(rows, DeploymentPublic), PagePublic[DeploymentPublic])


@router.get("/deployments/{deployment_id}", response_model=DeploymentPublic)
def get(request: Request, deployment_id: str, caller: CallerDep, ctx: Ctx) -> Response:
    row = ctx.supervisor.rows.scoped(caller.tenant_id, deployment_id)
    return tagged(request, DeploymentPublic.model_validate(row))


@router.get("/deployments/{deployment_id}/logs", response_model=LogPublic)
def logs(
    request: Request,
    deployment_id: str,
    caller: CallerDep,
    ctx: Ctx,
    lines: Annotated[int, Query(ge=1, le=1000, description="How many of the last lines.")] = 100,
) -> Response:
    """The end of the app's output (its current process's), control characters escaped."""
    row = ctx.supervisor.rows.scoped(caller.tenant_id, deployment_id)
    path = Path(row.log_path) if row.log_path else None
    return tagged(request, LogPublic(lines=tail(path, lines)))


@router.post("/deployments/{deployment_id}/stop", response_model=DeploymentPublic)
def stop(deployment_id: str, caller: CallerDep, ctx: Ctx) -> DeploymentPublic:
    """Stop the app; its URL stops answering and it is not brought back until the project is
    deployed again (stopping a stopped one changes nothing)."""
    row = ctx.supervisor.rows.scoped(caller.tenant_id, deployment_id)
    return DeploymentPublic.model_validate(ctx.supervisor.stop(row.id))
