"""One error body everywhere, and the handlers that make it.

Every answer that is not a success (a route's own error, a 404 for an unknown path, a 405, a
422 of validation with the path of each field at fault, a 401, 403, 413 or 429) is::

    {"error": {"code": "not_found", "message": "no run 'r-1'", "details": {...}}}

Errors of the layers below are translated here, once: a store ``NotFound`` (also a row of
another tenant) is 404, ``AlreadyExists`` 409, a workflow error (a bad brief, an invalid
template) 422. Anything else is a 500 whose body says nothing of the cause (it is logged).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from vitco.api.exceptions import ApiError, TooManyRequests
from vitco.jobs.exceptions import BadJob, QueueUnavailable
from vitco.observability.redaction import Redactor
from vitco.store.exceptions import AlreadyExists, NotFound
from vitco.workflow.exceptions import WorkflowError

logger = logging.getLogger("vitco.api")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


def error_json(code: str, message: str, details: Any) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "details": details}}).encode()


def _answer(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return refusal(exc)


def refusal(exc: ApiError | NotFound) -> JSONResponse:
    """The answer to a refused request, for where no handler runs (a WebSocket refused
    before it is accepted)."""
    if isinstance(exc, NotFound):
        return _answer(404, "not_found", f"no {exc.kind} {exc.key!r}", {"kind": exc.kind})
    headers = None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(max(1, round(exc.retry_after + 0.499)))}
    return _answer(exc.status, exc.code, exc.message, exc.details, headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = f"no endpoint {request.url.path}"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    return _answer(exc.status_code, code, message, None, exc.headers)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        {
            "path": ".".join(str(part) for part in error.get("loc", ())),
            "message": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in exc.errors()
    ]
    paths = ", ".join(f["path"] for f in fields)
    return _answer(422, "invalid", f"the request is not valid: {paths}", fields)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotFound)
    return refusal(exc)


async def _exists(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AlreadyExists)
    return _answer(409, "conflict", str(exc), {"kind": exc.kind})


async def _workflow(request: Request, exc: Exception) -> JSONResponse:
    fix = getattr(exc, "fix", None)
    return _answer(422, "rejected", str(exc), {"fix": fix} if fix else None)


async def _bad_job(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BadJob)
    return _answer(422, "invalid", str(exc), {"field": exc.field, "why": exc.why})


async def _queue_away(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QueueUnavailable)
    logger.error("%s %s: %s", request.method, request.url.path, exc)
    return _answer(503, "unavailable", str(exc), {"fix": exc.fix}, {"Retry-After": "5"})


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _answer(500, "internal", "the server failed to answer; it is logged")


Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]


def _redacting(handler: Handler, redactor: Redactor) -> Handler:
    """``handler`` whose body passes through ``redactor``: no known secret, no credential
    shape (a URL's password, a bearer token) is ever answered back."""

    async def answer(request: Request, exc: Exception) -> JSONResponse:
        response = await handler(request, exc)
        body = json.loads(bytes(response.body))
        clean = redactor.value(body)
        if clean == body:
            return response
        kept = {
            k: v for k, v in response.headers.items() if k not in ("content-length", "content-type")
        }
        return JSONResponse(clean, status_code=response.status_code, headers=kept)

    return answer


def install(app: FastAPI, redactor: Redactor | None = None) -> None:
    """Answer every error of ``app`` with the one body (through ``redactor``, if given)."""
    handlers: list[tuple[type[Exception], Handler]] = [
        (ApiError, _api_error),
        (HTTPException, _http_error),
        (RequestValidationError, _invalid),
        (NotFound, _not_found),
        (AlreadyExists, _exists),
        (WorkflowError, _workflow),
        (BadJob, _bad_job),
        (QueueUnavailable, _queue_away),
        (Exception, _internal),
    ]
    for kind, handler in handlers:
        app.add_exception_handler(
            kind, handler if redactor is None else _redacting(handler, redactor)
        )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": code.replace("_", " ")}
    for status, code in CODES.items()
    if status in (401, 403, 404, 413, 422, 429)
}
"""The error answers every endpoint may give, for the OpenAPI document."""
