"""``/v1/projects``: a client's projects, each made from a brief."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from vitco.api.deps import CallerDep, Ctx
from vitco.api.paging import CursorParam, IdPrefix, Limit, decode, page, tagged
from vitco.api.schemas import PagePublic, ProjectCreate, ProjectPublic
from vitco.workflow.brief import parse_brief
from vitco.workflow.runner import create_project

router = APIRouter(prefix="/v1", tags=["projects"])

State = Literal["active", "archived", "all"]
ARCHIVED: dict[str, bool | None] = {"active": False, "archived": True, "all": None}


@router.get("/projects", response_model=PagePublic[ProjectPublic])
def list_projects(
    request: Request,
    caller: CallerDep,
    ctx: Ctx,
    limit: Limit = 50,
    cursor: CursorParam = None,
    state: State = "active",
    name: Annotated[str | None, Query(max_length=200, description="Part of the name.")] = None,
    id_prefix: IdPrefix = None,
) -> Response:
    """The tenant's projects, newest first."""
    rows = ctx.access.projects(
        caller.tenant_id,
        limit=limit,
        after=decode(cursor),
        archived=ARCHIVED[state],
        name=name,
        id_prefix=id_prefix,
    )
    return tagged(request, page(rows, ProjectPublic), PagePublic[ProjectPublic])


@router.post("/projects", response_model=ProjectPublic, status_code=201)
def create(body: ProjectCreate, caller: CallerDep, ctx: Ctx) -> ProjectPublic:
    """A project from a brief (its title names the project); start it with a run."""
    brief = parse_brief(body.brief, body.source)
    project_id, _, _ = create_project(
        ctx.store, ctx.settings, brief, tenant_id=caller.tenant_id, budget_usd=body.budget_usd
    )
    return ProjectPublic.model_validate(ctx.access.project(caller.tenant_id, project_id))


@router.get("/projects/{project_id}", response_model=ProjectPublic)
def get(request: Request, project_id: str, caller: CallerDep, ctx: Ctx) -> Response:
    return tagged(
        request, ProjectPublic.model_validate(ctx.access.project(caller.tenant_id, project_id))
    )


@router.post("/projects/{project_id}/archive", response_model=ProjectPublic)
def archive(project_id: str, caller: CallerDep, ctx: Ctx) -> ProjectPublic:
    """Archive a project: it leaves the default list and takes no new runs."""
    return ProjectPublic.model_validate(ctx.access.archive_project(caller.tenant_id, project_id))
