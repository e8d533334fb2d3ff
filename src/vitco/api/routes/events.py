"""``/v1/runs/{id}/events``: what a run did, in order, each event with its sequence number.

``since=SEQ`` answers the events after ``SEQ``; ``next_since`` is where to ask from next (a
client polling a live run asks again with it; the WebSocket and SSE streams of later sessions
use the same numbers, so a reconnect resumes with nothing lost).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from vitco.api.deps import CallerDep, Ctx
from vitco.api.paging import Limit, tagged
from vitco.api.schemas import EventPublic
from vitco.store.models import Event

router = APIRouter(prefix="/v1", tags=["events"])


class EventPage(BaseModel):
    items: list[EventPublic]
    next_since: int  # the sequence number to ask from next
    more: bool


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
    since: Annotated[int, Query(ge=0, description="Answer the events after this seq.")] = 0,
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
