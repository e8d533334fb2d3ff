"""``/v1/users``: the people (or systems) of the tenant; keys can be issued in their name."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from vitco.api.deps import CallerDep, Ctx
from vitco.api.paging import CursorParam, Limit, decode, page, tagged
from vitco.api.schemas import PagePublic, UserCreate, UserPublic

router = APIRouter(prefix="/v1", tags=["users"])


@router.get("/users", response_model=PagePublic[UserPublic])
def list_users(
    request: Request, caller: CallerDep, ctx: Ctx, limit: Limit = 50, cursor: CursorParam = None
) -> Response:
    rows = ctx.access.users(caller.tenant_id, limit=limit, after=decode(cursor))
    return tagged(request, page(rows, UserPublic), PagePublic[UserPublic])


@router.post("/users", response_model=UserPublic, status_code=201)
def create(body: UserCreate, caller: CallerDep, ctx: Ctx) -> UserPublic:
    user = ctx.access.create_user(caller.tenant_id, body.email, body.role, name=body.name)
    return UserPublic.model_validate(user)


@router.get("/users/{user_id}", response_model=UserPublic)
def get(request: Request, user_id: str, caller: CallerDep, ctx: Ctx) -> Response:
    return tagged(
        request, UserPublic.model_validate(ctx.access.get_user(caller.tenant_id, user_id))
    )
