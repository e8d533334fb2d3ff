"""Events, each with its sequence number ``seq``: read in pages, or live.

- ``GET /v1/runs/{id}/events``: what a run did, in order; ``since=SEQ`` answers the events
  after ``SEQ`` and ``next_since`` is where to ask from next.
- ``/v1/events``: the events of the key's tenant, or of one ``project_id`` or ``run_id`` of
  it, after ``since``: a page (``next_since``, ``more``) to a plain ``GET``; live, to a
  ``GET`` that accepts ``text/event-stream`` (Server-Sent Events, ``id:`` is the event's
  ``seq``) and to a WebSocket (every message one event, JSON). A live stream first sends
  what came after ``since`` (or SSE's ``Last-Event-ID``), so a client that reconnects with
  the last number it got loses nothing and receives nothing twice (``vitco.api.live``).
  All three take the permission row of ``GET /v1/events``; the WebSocket is refused before
  it opens with the same error body as any request (401, 403, 404, 429). A client that
  falls behind is dropped: the WebSocket closes with 1013 and the reason ``resume with
  since=N``; the SSE stream sends a ``lagging`` event carrying ``since`` and ends.
  A stream stays open only while its key does: every ``RECHECK_S`` the key (or session) is
  checked again, and one revoked, expired or no longer allowed ends the stream (WebSocket:
  close code 1008; SSE: a ``refused`` event with the error body, then the end).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request, Response, WebSocket
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from fastapi.sse import KEEPALIVE_COMMENT, format_sse_event
from starlette.websockets import WebSocketDisconnect

from vitco.api import errors
from vitco.api.deps import ApiContext, CallerDep, Ctx, admit, readmit
from vitco.api.exceptions import ApiError, Lagging
from vitco.api.keys import Caller
from vitco.api.live import Topic, live_event
from vitco.api.paging import Limit, tagged
from vitco.api.schemas import EventPage, EventPublic, LiveEvent, LivePage
from vitco.store.exceptions import NotFound
from vitco.store.models import Event

LIVE = "GET /v1/events"
"""The permission row of both live streams."""
LAGGING_CLOSE = 1013  # "try again later": the client resumes with since
PING_S = 15.0  # an idle SSE stream sends a comment this often (proxies close silent ones)
RECHECK_S = 10.0  # how often an open stream's key is checked again
POLICY_CLOSE = 1008  # "policy violation": the key that opened the stream is no longer valid
MAX_SEQ = 2**63 - 1

router = APIRouter(prefix="/v1", tags=["events"])


def public(event: Event) -> EventPublic:
    return EventPublic(
        seq=event.id,
        run_id=event.run_id,
        ts=event.ts,
        kind=event.kind,
        step=event.step,
        task=event.task,
        message=event.message,
        data=event.data,
    )


@router.get("/runs/{run_id}/events", response_model=EventPage)
def events(
    request: Request,
    run_id: str,
    caller: CallerDep,
    ctx: Ctx,
    since: Annotated[
        int, Query(ge=0, le=MAX_SEQ, description="Answer the events after this seq.")
    ] = 0,
    limit: Limit = 100,
    kind: Annotated[list[str] | None, Query(max_length=20, description="Only these kinds.")] = None,
    step: Annotated[str | None, Query(max_length=64)] = None,
    task: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The run's events after ``since``, oldest first, filtered by kind, step or task."""
    run = ctx.access.run(caller.tenant_id, run_id)
    rows = ctx.access.events(run.id, since=since, limit=limit, kinds=kind, step=step, task=task)
    items = [public(e) for e in rows.items]
    body = EventPage(
        items=items, next_since=items[-1].seq if items else since, more=rows.after is not None
    )
    return tagged(request, body)


ProjectFilter = Annotated[
    str | None, Query(max_length=64, description="Only this project's events.")
]
RunFilter = Annotated[str | None, Query(max_length=64, description="Only this run's events.")]
Since = Annotated[int, Query(ge=0, le=MAX_SEQ, description="Answer the events after this seq.")]


def topic(ctx: ApiContext, caller: Caller, project_id: str | None, run_id: str | None) -> Topic:
    """The caller's tenant, narrowed to a project or run of it (404 if it is not the
    tenant's, like one that does not exist)."""
    if project_id is not None:
        ctx.access.project(caller.tenant_id, project_id)
    if run_id is not None:
        ctx.access.run(caller.tenant_id, run_id)
    return Topic(caller.tenant_id, project_id, run_id)


def _topic(
    caller: CallerDep, ctx: Ctx, project_id: ProjectFilter = None, run_id: RunFilter = None
) -> Topic:
    return topic(ctx, caller, project_id, run_id)


_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A page of events; to `Accept: text/event-stream`, the live stream.",
        "content": {"text/event-stream": {"itemSchema": LiveEvent.model_json_schema()}},
    }
}


@router.get("/events", response_model=LivePage, responses=_STREAM)
def tenant_events(
    request: Request,
    ctx: Ctx,
    subscribed: Annotated[Topic, Depends(_topic)],
    since: Since = 0,
    limit: Limit = 100,
    last_event_id: Annotated[
        int | None,
        Header(
            ge=0,
            le=MAX_SEQ,
            description="The last seq received (EventSource sends it on reconnect).",
        ),
    ] = None,
) -> Response:
    """The events of the key's tenant (or of one project or run of it) after ``since``,
    oldest first: a page, or, to ``Accept: text/event-stream``, the live stream
    (Server-Sent Events); a WebSocket to this URL receives the live stream too."""
    after = max(since, last_event_id or 0)
    if "text/event-stream" in request.headers.get("accept", ""):
        return StreamingResponse(
            _server_sent(ctx, request, subscribed, after),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    rows = ctx.live.feed.scoped(
        subscribed.tenant_id,
        project_id=subscribed.project_id,
        run_id=subscribed.run_id,
        since=after,
        upto=MAX_SEQ,
        limit=limit + 1,
    )
    items = [live_event(row) for row in rows[:limit]]
    page = LivePage(
        items=items, next_since=items[-1].seq if items else after, more=len(rows) > limit
    )
    return tagged(request, page)


async def _server_sent(
    ctx: ApiContext, request: Request, subscribed: Topic, since: int
) -> AsyncIterator[bytes]:
    checked = anyio.current_time()
    try:
        stream = ctx.live.stream(subscribed, since, idle=min(PING_S, RECHECK_S))
        async with aclosing(stream) as deliveries:
            async for delivery in deliveries:
                if anyio.current_time() - checked >= RECHECK_S:
                    try:
                        await run_in_threadpool(readmit, ctx, request, LIVE)
                    except ApiError as exc:
                        body = json.loads(bytes(errors.refusal(exc).body))
                        yield format_sse_event(event="refused", data_str=json.dumps(body))
                        return
                    checked = anyio.current_time()
                if delivery is None:
                    yield KEEPALIVE_COMMENT
                else:
                    yield format_sse_event(data_str=delivery.json, id=str(delivery.seq))
    except Lagging as exc:
        yield format_sse_event(event="lagging", data_str=json.dumps({"since": exc.last}))


@router.websocket("/events")
async def socket(
    websocket: WebSocket,
    project_id: ProjectFilter = None,
    run_id: RunFilter = None,
    since: Since = 0,
) -> None:
    """The live events as a WebSocket: one JSON ``LiveEvent`` per message."""
    ctx: ApiContext = websocket.app.state.vitco
    try:
        caller = await run_in_threadpool(admit, ctx, websocket, LIVE)
        subscribed = await run_in_threadpool(topic, ctx, caller, project_id, run_id)
    except (ApiError, NotFound) as exc:
        await websocket.send_denial_response(errors.refusal(exc))
        return
    await websocket.accept()
    async with anyio.create_task_group() as group:

        async def watch() -> None:  # the client closing ends the stream
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass
            group.cancel_scope.cancel()

        async def recheck() -> None:  # the key that opened the stream must stay valid
            while True:
                await anyio.sleep(RECHECK_S)
                try:
                    await run_in_threadpool(readmit, ctx, websocket, LIVE)
                except ApiError as exc:
                    await websocket.close(POLICY_CLOSE, exc.message[:120])
                    group.cancel_scope.cancel()
                    return

        group.start_soon(watch)
        group.start_soon(recheck)
        try:
            async with aclosing(ctx.live.stream(subscribed, since)) as deliveries:
                async for delivery in deliveries:
                    if delivery is not None:
                        await websocket.send_text(delivery.json)
        except Lagging as exc:
            await websocket.close(LAGGING_CLOSE, f"resume with since={exc.last}")
        except (WebSocketDisconnect, OSError):
            pass
        group.cancel_scope.cancel()
