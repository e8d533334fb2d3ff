"""What the API tells its operator: ``GET /metrics`` (Prometheus text) and, per request, the
HTTP metrics and one structured access log line.

``/metrics`` serves this process's series (``vitco.observability.metrics.REGISTRY``: model
calls, tokens, cost, cache hits, breakers, step latency, HTTP) joined with the store's runs by
status and the run queue's depth, runs in progress and oldest lease age (the autoscaling
signals, from the queue in use: the database's or Redis), read when scraped. It is outside
``/v1`` and the OpenAPI document, like every Prometheus exporter's; it names no tenant,
project or key. With
``VITCO_METRICS_TOKEN`` set a scrape needs ``Authorization: Bearer <token>`` (401 otherwise);
unset, it answers anyone who can reach the server (``vitco serve`` listens on 127.0.0.1
unless told otherwise).

``Observe`` (ASGI middleware, inside ``RequestLog`` so the request id is known) counts each
request by route *template* and status and logs it: method, route, status, duration and the
ids (``request_id`` from the context, ``tenant_id``/``key_id`` of the caller, ``project_id`` /
``run_id`` of the path).
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vitco.api.exceptions import Unauthorized
from vitco.api.keys import Caller
from vitco.jobs.queue import RunQueue
from vitco.observability.metrics import (
    HTTP_DURATION,
    HTTP_REQUESTS,
    REGISTRY,
    Joined,
    StoreCollector,
)
from vitco.store import Store, stats

logger = logging.getLogger("vitco.api.access")

UNMATCHED = "<unmatched>"
"""The route label of a request no route matched (a 404 path, a scan): one series, not one
per path."""
PATH_IDS = ("project_id", "run_id", "task_id", "key_id", "user_id")


def install(app: FastAPI, store: Store, queue: RunQueue, token: str | None) -> None:
    """Serve ``GET /metrics`` on ``app`` (see the module docstring)."""
    source = Joined(
        REGISTRY,
        StoreCollector(lambda: stats.runs_by_status(store.sessions), queue.stats),
    )
    expected = f"Bearer {token}".encode() if token else None

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                raise Unauthorized()
        return Response(generate_latest(source), media_type=CONTENT_TYPE_LATEST)


def route_of(scope: Scope) -> str:
    """The template of the route that answered (``/v1/runs/{run_id}``), or ``UNMATCHED``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class Observe:
    """ASGI middleware: HTTP metrics and the access log line (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            method, route = scope["method"], route_of(scope)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_DURATION.labels(method, route).observe(elapsed)
            if logger.isEnabledFor(logging.INFO):
                logger.info("request", extra=_fields(scope, route, status, elapsed))


def _fields(scope: Scope, route: str, status: int, elapsed: float) -> dict[str, Any]:
    state: dict[str, Any] = scope.get("state", {})
    caller: Caller | None = state.get("caller")
    params: dict[str, Any] = scope.get("path_params", {})
    fields: dict[str, Any] = {
        "method": scope["method"],
        "route": route,
        "path": scope.get("path", "")[:300],
        "status": status,
        "duration_ms": round(elapsed * 1000, 2),
    }
    if caller is not None:
        fields |= {"tenant_id": caller.tenant_id, "key_id": caller.key_id, "role": caller.role}
    fields |= {name: str(params[name]) for name in PATH_IDS if name in params}
    return fields
