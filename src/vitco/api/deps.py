"""What routes receive: the built parts (``ApiContext``) and the caller, as ``Annotated``
aliases.

``authorize`` is the one dependency every endpoint takes: it authenticates the key, takes a
token from the key's bucket (429 when empty) and looks the endpoint up in the permission
matrix (403 when the role may not). Routes then only ever query with ``caller.tenant_id``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from vitco.api.exceptions import Forbidden, TooManyRequests
from vitco.api.keys import Authenticator, Caller
from vitco.api.limits import TokenBuckets
from vitco.api.live import Live
from vitco.api.permissions import allowed, endpoint
from vitco.api.sessions import COOKIE, BrowserSessions
from vitco.config import Settings
from vitco.deployments import Supervisor
from vitco.integrations.storage import ArtifactStore
from vitco.jobs.queue import RunQueue
from vitco.llm.model import Model
from vitco.observability.redaction import Redactor
from vitco.store import Store
from vitco.store.access import AccessStore
from vitco.store.webhooks import WebhookStore


class Service(Protocol):
    """Something that runs beside the API while it serves (the outbound webhook sender)."""

    def start(self) -> None: ...

    def close(self) -> None: ...


class Runs(Protocol):
    """The executor of queued runs, as the API sees it (the embedded worker, or nothing
    where workers run elsewhere)."""

    def start(self) -> None: ...

    def notify(self) -> None: ...

    def cancel(self, run_id: str) -> bool: ...

    def close(self) -> None: ...


class Elsewhere:
    """``Runs`` where ``vitco worker`` processes execute the runs (``VITCO_SERVE_WORKER=false``):
    nothing to start or wake here, and no run executes in this process to stop."""

    def start(self) -> None:
        return None

    def notify(self) -> None:
        return None

    def cancel(self, run_id: str) -> bool:
        return False

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class ApiContext:
    """The parts the API uses, built by the composition root (``vitco.bootstrap``)."""

    settings: Settings
    store: Store
    access: AccessStore
    queue: RunQueue
    runs: Runs
    supervisor: Supervisor
    models: Callable[[str | None], Model]
    authenticator: Authenticator
    buckets: TokenBuckets
    live: Live
    hooks: WebhookStore
    outbound: Service
    artifacts: ArtifactStore | None = None  # delivered files (the repository as delivered)
    sessions: BrowserSessions | None = None
    """Browser sessions (cookie + CSRF token) for the web pages; None: keys only."""
    redactor: Redactor | None = None  # error bodies pass through it


async def context(request: Request) -> ApiContext:
    """The app's parts. ``async`` although it never waits: FastAPI runs a plain ``def``
    dependency in its thread pool, one thread hop per request for an attribute read."""
    ctx: ApiContext = request.app.state.vitco
    return ctx


Ctx = Annotated[ApiContext, Depends(context)]


def authorize(request: Request, ctx: Ctx) -> Caller:
    route = request.scope.get("route")
    return admit(ctx, request, endpoint(request.method, getattr(route, "path", request.url.path)))


def admit(ctx: ApiContext, connection: HTTPConnection, key: str) -> Caller:
    """The caller of ``connection`` (a request, or a WebSocket before it is accepted) if its
    key is valid, has a token left and its role may call the endpoint ``key``. Without an
    ``Authorization`` header, a browser's session cookie stands for its key
    (``vitco.api.sessions``: CSRF token and origin checked)."""
    caller = _authenticated(ctx, connection, key)
    connection.state.caller = caller
    connection.state.endpoint = key
    wait = ctx.buckets.take(caller.key_id)
    if wait > 0:
        raise TooManyRequests(wait)
    if not allowed(caller.role, key):
        raise Forbidden(caller.role, key)
    return caller


def readmit(ctx: ApiContext, connection: HTTPConnection, key: str) -> Caller:
    """``admit`` again for a connection that stays open (a live stream): the key (or session)
    is still valid, not revoked or expired, and its role still may call ``key``; no rate
    token is taken. Raises the error ``admit`` would."""
    caller = _authenticated(ctx, connection, key)
    if not allowed(caller.role, key):
        raise Forbidden(caller.role, key)
    return caller


def _authenticated(ctx: ApiContext, connection: HTTPConnection, key: str) -> Caller:
    """The key's caller, or a session's: set on the connection before the session's CSRF
    token or origin is checked, so that a refusal is audited under its key."""
    header = connection.headers.get("authorization")
    if header is None and ctx.sessions is not None and COOKIE in connection.cookies:
        session = ctx.sessions.verify(connection.cookies[COOKIE])
        connection.state.caller = session.caller
        connection.state.endpoint = key
        ctx.sessions.check(connection, session)
        return session.caller
    return ctx.authenticator.authenticate(header)


CallerDep = Annotated[Caller, Depends(authorize)]
