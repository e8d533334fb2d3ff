"""``/v1/hooks`` (webhooks in) and ``/v1/webhooks`` (subscriptions of webhooks out).

``POST /v1/hooks/{source}?tenant=T`` takes a delivery from a sender (no key: the signature
is the credential; ``vitco.api.hooks`` is the boundary). The rest take a key: an admin sets
the secret a source signs with, and subscribes URLs to event kinds; an admin or a manager
reads what came in and what went out.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from vitco.api import hook_batches, hooks
from vitco.api.deps import ApiContext, CallerDep, Ctx
from vitco.api.exceptions import Unprocessable, Unsigned
from vitco.api.paging import MAX_ROW_ID, CursorParam, Limit, decode, encode, tagged
from vitco.api.schemas import ItemsPublic, PagePublic
from vitco.api.webhook_schemas import (
    AttemptPublic,
    HookAnswer,
    HookDeliveryPublic,
    HookSecretSet,
    HookSourceCreated,
    HookSourcePublic,
    Source,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryPublic,
    WebhookPublic,
)
from vitco.integrations.webhooks import BadSignature, UnsafeUrl, check_url, new_secret

router = APIRouter(prefix="/v1", tags=["webhooks"])

SourcePath = Annotated[Source, Path(description="generic, github or stripe")]
TenantQuery = Annotated[
    str, Query(min_length=1, max_length=64, description="The tenant the sender posts for.")
]
ANY_JSON: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def _int_cursor(cursor: str | None) -> int | None:
    after = decode(cursor)
    if after is None:
        return None
    if not after[1].isdigit() or int(after[1]) > MAX_ROW_ID:
        raise RequestValidationError(
            [{"loc": ("query", "cursor"), "msg": "not a cursor this server gave", "type": "value"}]
        )
    return int(after[1])


# in ------------------------------------------------------------------------------------------


def batches(app: Any, ctx: ApiContext) -> hook_batches.HookBatches | None:
    """The app's batching accepter on SQLite (``vitco.api.hook_batches``; its thread starts
    with the first delivery and is closed with the app, ``close_batches``); None on
    PostgreSQL, which takes concurrent writers: each accept in a thread of anyio's pool."""
    if ctx.store.engine.dialect.name != "sqlite":
        return None
    made: hook_batches.HookBatches | None = getattr(app.state, "hook_batches", None)
    if made is None:  # on the event loop's thread: no other request makes one meanwhile
        made = app.state.hook_batches = hook_batches.HookBatches(ctx)
    return made


def close_batches(app: Any) -> None:
    """Accept what is queued and end the batching thread (at the app's shutdown)."""
    made: hook_batches.HookBatches | None = getattr(app.state, "hook_batches", None)
    if made is not None:
        made.close()


@router.post(
    "/hooks/{source}",
    response_model=HookAnswer,
    status_code=202,
    openapi_extra=ANY_JSON,
    responses={200: {"model": HookAnswer, "description": "a replay, or nothing to do"}},
)
async def receive(source: SourcePath, tenant: TenantQuery, request: Request, ctx: Ctx) -> Response:
    """Take a signed delivery (no key): 202 when it made a project or a run, 200 for a replay
    or one there is nothing to do about, 401 when its signature does not verify (nothing
    is stored)."""
    body = await request.body()
    headers = {name.lower(): value for name, value in request.headers.items()}
    tolerance_s = ctx.settings.hook_tolerance_s

    def take() -> tuple[int, HookAnswer]:
        # no such tenant: no secret either (a secret's row refers to its tenant's)
        secret = ctx.hooks.secret(tenant, source)
        delivery = hooks.read(source, secret, body, headers, tolerance_s=tolerance_s)
        return hooks.accept(ctx, tenant, delivery)

    batching = batches(request.app, ctx)
    try:
        if batching is not None:
            status, answer = await asyncio.wrap_future(
                batching.submit(tenant, source, body, headers, tolerance_s)
            )
        else:
            status, answer = await anyio.to_thread.run_sync(take)
    except BadSignature as exc:
        raise Unsigned(str(exc)) from exc
    except hooks.Invalid as exc:
        raise RequestValidationError(exc.errors) from exc
    return JSONResponse(answer.model_dump(mode="json"), status_code=status)


@router.get("/hooks", response_model=ItemsPublic[HookSourcePublic])
def list_sources(request: Request, caller: CallerDep, ctx: Ctx) -> Response:
    """The sources the tenant has a secret for (never the secret)."""
    rows = ctx.hooks.sources(caller.tenant_id)
    return tagged(request, {"items": rows}, ItemsPublic[HookSourcePublic])


@router.put("/hooks/{source}/secret", response_model=HookSourceCreated)
def set_secret(
    source: SourcePath, caller: CallerDep, ctx: Ctx, body: HookSecretSet | None = None
) -> HookSourceCreated:
    """Set the secret ``source`` signs with: the one given (GitHub's, Stripe's whsec_...), or
    one vitco makes, answered this once."""
    made = None if body is not None and body.secret else new_secret()
    secret = made or (body.secret if body else None)
    assert secret is not None
    row = ctx.hooks.set_secret(caller.tenant_id, source, secret)
    return HookSourceCreated(
        source=row.source, created_at=row.created_at, secret=made,
        path=f"/v1/hooks/{source}?tenant={caller.tenant_id}",
    )  # fmt: skip


@router.delete("/hooks/{source}/secret", response_model=HookSourcePublic)
def delete_secret(source: SourcePath, caller: CallerDep, ctx: Ctx) -> HookSourcePublic:
    """Forget the secret of ``source``: its deliveries are refused (401) from now on."""
    return HookSourcePublic.model_validate(ctx.hooks.delete_secret(caller.tenant_id, source))


@router.get("/hooks/deliveries", response_model=PagePublic[HookDeliveryPublic])
def received(
    request: Request,
    caller: CallerDep,
    ctx: Ctx,
    limit: Limit = 50,
    cursor: CursorParam = None,
    source: Annotated[Source | None, Query()] = None,
) -> Response:
    """Deliveries taken (signed ones only), newest first, with what each made."""
    rows = ctx.hooks.received(caller.tenant_id, source, limit=limit, after=_int_cursor(cursor))
    items = [HookDeliveryPublic.model_validate(row) for row in rows.items]
    body = {"items": items, "next_cursor": encode(rows.after)}
    return tagged(request, body, PagePublic[HookDeliveryPublic])


# out -----------------------------------------------------------------------------------------


@router.post("/webhooks", response_model=WebhookCreated, status_code=201)
def subscribe(body: WebhookCreate, caller: CallerDep, ctx: Ctx) -> WebhookCreated:
    """Subscribe a URL to event kinds; the answer holds the signing secret, this once."""
    try:
        check_url(body.url, allow_private=ctx.settings.webhook_allow_private)
    except UnsafeUrl as exc:
        raise Unprocessable(str(exc), {"field": "body.url"}) from exc
    secret = new_secret()
    hook = ctx.hooks.add_webhook(caller.tenant_id, body.url, body.events, secret, body.description)
    return WebhookCreated.model_validate(
        WebhookPublic.model_validate(hook).model_dump() | {"secret": secret}
    )


@router.get("/webhooks", response_model=PagePublic[WebhookPublic])
def list_webhooks(
    request: Request, caller: CallerDep, ctx: Ctx, limit: Limit = 50, cursor: CursorParam = None
) -> Response:
    after = decode(cursor)
    rows = ctx.hooks.webhooks(caller.tenant_id, limit=limit, after=after[1] if after else None)
    items = [WebhookPublic.model_validate(row) for row in rows.items]
    return tagged(
        request, {"items": items, "next_cursor": encode(rows.after)}, PagePublic[WebhookPublic]
    )


@router.get("/webhooks/{webhook_id}", response_model=WebhookPublic)
def get(request: Request, webhook_id: str, caller: CallerDep, ctx: Ctx) -> Response:
    return tagged(
        request, WebhookPublic.model_validate(ctx.hooks.webhook(caller.tenant_id, webhook_id))
    )


@router.delete("/webhooks/{webhook_id}", response_model=WebhookPublic)
def unsubscribe(webhook_id: str, caller: CallerDep, ctx: Ctx) -> WebhookPublic:
    """Stop sending to this subscription (what was due is not sent)."""
    hook = ctx.hooks.webhook(caller.tenant_id, webhook_id)
    ctx.hooks.delete_webhook(caller.tenant_id, webhook_id)
    return WebhookPublic.model_validate(hook)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=PagePublic[WebhookDeliveryPublic])
def sent(
    request: Request,
    webhook_id: str,
    caller: CallerDep,
    ctx: Ctx,
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> Response:
    """The subscription's deliveries, newest first, each with its status and attempts."""
    rows = ctx.hooks.deliveries(
        caller.tenant_id, webhook_id, limit=limit, after=_int_cursor(cursor)
    )
    tries = ctx.hooks.attempts([row.id for row in rows.items])
    items = [
        WebhookDeliveryPublic.model_validate(row).model_copy(
            update={"tries": [AttemptPublic.model_validate(a) for a in tries[row.id]]}
        )
        for row in rows.items
    ]
    body = {"items": items, "next_cursor": encode(rows.after)}
    return tagged(request, body, PagePublic[WebhookDeliveryPublic])
