"""``/v1/keys``: the tenant's API keys; a new key is shown once, in the answer that makes it."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from vitco.api.deps import CallerDep, Ctx
from vitco.api.keys import issue
from vitco.api.paging import CursorParam, Limit, decode, page, tagged
from vitco.api.schemas import KeyCreate, KeyCreated, KeyPublic, PagePublic
from vitco.store.models import utcnow

router = APIRouter(prefix="/v1", tags=["keys"])


@router.get("/keys", response_model=PagePublic[KeyPublic])
def list_keys(
    request: Request, caller: CallerDep, ctx: Ctx, limit: Limit = 50, cursor: CursorParam = None
) -> Response:
    """The tenant's keys (prefix, role, expiry, last use; never the key)."""
    rows = ctx.access.keys(caller.tenant_id, limit=limit, after=decode(cursor))
    return tagged(request, page(rows, KeyPublic), PagePublic[KeyPublic])


@router.post("/keys", response_model=KeyCreated, status_code=201)
def create(body: KeyCreate, caller: CallerDep, ctx: Ctx) -> KeyCreated:
    """A new key of the tenant with a role; the answer holds the key, this once."""
    expires = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    row, key = issue(
        ctx.access, caller.tenant_id, body.role, name=body.name, user_id=body.user_id,
        expires_at=expires,
    )  # fmt: skip
    return KeyCreated.model_validate(KeyPublic.model_validate(row).model_dump() | {"key": key})


@router.delete("/keys/{key_id}", response_model=KeyPublic)
def revoke(key_id: str, caller: CallerDep, ctx: Ctx) -> KeyPublic:
    """Revoke a key: it is refused from the next request on."""
    return KeyPublic.model_validate(ctx.access.revoke_key(caller.tenant_id, key_id))
