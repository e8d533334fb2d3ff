"""The FastAPI app of ``vitco serve``: REST ``/v1``, whose OpenAPI 3.1 document
(``/v1/openapi.json``) is the typed contract.

``create_app`` takes the parts already built (``ApiContext``; ``vitco.bootstrap.build_api``
builds them from ``Settings``) and builds nothing itself. It wires, outermost first:

- CORS, strict: only the origins ``Settings.api_cors_origins`` names (none by default);
- request ids and the audit log of mutating requests (``vitco.api.audit``);
- HTTP metrics and the access log line (``vitco.api.metrics``, which also serves ``/metrics``);
- the body size limit (``Settings.api_max_body_bytes``; 413);
- the routers (``vitco.api.routes``), each endpoint behind ``deps.authorize``: the key, its
  rate limit (429 + Retry-After) and the permission matrix (``vitco.api.permissions``);
- one error body for every failure (``vitco.api.errors``).

The worker that executes queued runs and the supervisor that keeps delivered apps up
(``vitco.deployments``) start and stop with the app (its lifespan). Later
parts slot in beside the routers: the WebSocket/SSE event streams (reading the same event
sequence numbers as ``GET /v1/runs/{id}/events``), inbound webhooks, /metrics.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

import vitco
from vitco.api import errors, metrics
from vitco.api.audit import RequestLog
from vitco.api.deps import ApiContext
from vitco.api.limits import BodyLimit
from vitco.api.permissions import MATRIX, endpoint
from vitco.api.routes import ROUTERS
from vitco.api.routes.webhooks import close_batches

OPEN = frozenset(
    {"/v1/openapi.json", "/v1/docs", "/v1/docs/oauth2-redirect", "/v1/health", "/v1/hooks/{source}"}
)
"""Endpoints without a key: the contract, its docs, the health check, and inbound webhooks
(their signature is the credential: ``vitco.api.hooks``)."""
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})


def create_app(ctx: ApiContext) -> FastAPI:
    """The API on ``ctx``'s parts (see the module docstring)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx.supervisor.start()  # the deployments come back before any run can deploy
        ctx.runs.start()
        ctx.outbound.start()
        try:
            yield
        finally:
            await ctx.live.aclose()
            close_batches(app)  # the webhooks queued are accepted first
            ctx.outbound.close()
            ctx.runs.close()
            ctx.supervisor.close()

    app = FastAPI(
        title="vitco",
        version=vitco.__version__,
        summary="A virtual IT company: briefs in, tested and deployed projects out.",
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
        responses=errors.ERROR_RESPONSES,
    )
    app.state.vitco = ctx
    errors.install(app, ctx.redactor)
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/v1/health", tags=["health"])
    def health() -> dict[str, str]:
        """Whether the server answers (no key needed)."""
        return {"status": "ok"}

    check_matrix(app)
    settings = ctx.settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    metrics.install(app, ctx.store, ctx.queue, token)
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(metrics.Observe)
    app.add_middleware(RequestLog, access=ctx.access)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.api_cors_origins),
        allow_credentials=False,
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "If-None-Match"],
        expose_headers=["ETag", "Retry-After", "X-Request-Id"],
    )
    return app


def routes(app: FastAPI) -> list[str]:
    """Every endpoint of ``app`` that needs a key, as matrix keys (read from the OpenAPI
    document: the contract is what callers see)."""
    return [
        endpoint(method, path)
        for path, operations in app.openapi()["paths"].items()
        if path not in OPEN
        for method in operations
        if method in HTTP_METHODS
    ]


def check_matrix(app: FastAPI) -> None:
    """Refuse an app whose endpoints and permission matrix differ: an endpoint nobody
    listed would be refused to everyone, a listed one that is gone is a stale promise."""
    present = set(routes(app))
    missing, stale = present - MATRIX.keys(), MATRIX.keys() - present
    if missing or stale:
        raise RuntimeError(
            f"the permission matrix does not match the routes: not in it {sorted(missing)}, "
            f"no such route {sorted(stale)}"
        )
