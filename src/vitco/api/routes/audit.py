"""``/v1/audit``: the tenant's audit log, newest first (every mutating request)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from vitco.api.deps import CallerDep, Ctx
from vitco.api.paging import MAX_ROW_ID, Limit, tagged
from vitco.api.schemas import AuditPublic, PagePublic

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get("/audit", response_model=PagePublic[AuditPublic])
def audit(
    request: Request,
    caller: CallerDep,
    ctx: Ctx,
    limit: Limit = 50,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ROW_ID, description="Entries older than this id.")
    ] = None,
) -> Response:
    rows = ctx.access.audit_entries(caller.tenant_id, limit=limit, after=before)
    items = [AuditPublic.model_validate(e) for e in rows.items]
    body = PagePublic[AuditPublic](
        items=items, next_cursor=str(items[-1].id) if rows.after and items else None
    )
    return tagged(request, body)
