"""Pagination and caching headers of reads.

A list answers one page and ``next_cursor``: an opaque token (the store's keyset cursor,
base64url JSON) that asks for the page after it. Reads carry an ``ETag`` (a hash of the body);
a request whose ``If-None-Match`` names it gets 304 and no body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Annotated, Any

from fastapi import Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from vitco.store.access import Cursor, Page

Limit = Annotated[int, Query(ge=1, le=200, description="Rows per page.")]
MAX_ROW_ID = 2**63 - 1
"""The largest integer id or sequence number a database holds (SQLite's INTEGER, PostgreSQL's
BIGINT): a bigger one in a request is a 422, not a database error."""
CursorParam = Annotated[
    str | None, Query(max_length=500, description="next_cursor of the page before.")
]
IdPrefix = Annotated[
    str | None,
    Query(
        min_length=3,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Only the rows whose id starts with this (e.g. r-3f9a): how a person's "
        "abbreviated id is resolved.",
    ),
]


def encode(after: Cursor | None) -> str | None:
    if after is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(list(after)).encode()).decode().rstrip("=")


def decode(cursor: str | None) -> Cursor | None:
    """The store's cursor from a token; a token this server did not make is a 422."""
    if cursor is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
            return (value[0], value[1])
    except (binascii.Error, ValueError):
        pass
    raise RequestValidationError(
        [{"loc": ("query", "cursor"), "msg": "not a cursor this server gave", "type": "value"}]
    )


def page(rows: Page[Any], public: type[BaseModel]) -> dict[str, Any]:
    return {
        "items": [public.model_validate(row) for row in rows.items],
        "next_cursor": encode(rows.after),
    }


def tagged(request: Request, body: BaseModel | dict[str, Any], model: Any = None) -> Response:
    """The answer of a read: JSON with an ``ETag``, or 304 when the client has it."""
    if isinstance(body, dict) and model is not None:
        body = model.model_validate(body, from_attributes=True)
    assert isinstance(body, BaseModel)
    return tagged_bytes(request, body.model_dump_json().encode(), "application/json")


def tagged_bytes(request: Request, content: bytes, media_type: str) -> Response:
    """A read's body with an ``ETag`` (a hash of it), or 304 when the client has it."""
    etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
    if fresh(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(content, media_type=media_type, headers={"ETag": etag})


def fresh(request: Request, etag: str) -> bool:
    """Whether the client's ``If-None-Match`` names ``etag`` (it has the body: answer 304)."""
    wanted = request.headers.get("if-none-match", "")
    return etag in {tag.strip().removeprefix("W/") for tag in wanted.split(",")} or wanted == "*"
