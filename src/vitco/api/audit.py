"""Every request gets an id (``X-Request-Id``); every mutating one by a known key is written
to the audit log when it has been answered: who (key, user), what (method, path, endpoint),
when, the tenant, and the status it got, refusals (403, 429, 4xx) included.

A mutating request without a valid key (401) has no tenant to file it under: it is logged,
not stored, so that anyone on the network cannot fill the database.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vitco.api.keys import Caller
from vitco.observability.logging import bound
from vitco.store.access import AccessStore
from vitco.store.models import utcnow

logger = logging.getLogger("vitco.api.audit")

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RequestLog:
    """ASGI middleware: request ids and the audit log (see the module docstring)."""

    def __init__(self, app: ASGIApp, access: AccessStore) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            with bound(request_id=request_id):  # on every log line of the request
                await self.app(scope, receive, send_with_id)
        finally:
            if scope["method"] in MUTATING:
                await self._record(scope, request_id, status)

    async def _record(self, scope: Scope, request_id: str, status: int) -> None:
        state: dict[str, Any] = scope.get("state", {})
        caller: Caller | None = state.get("caller")
        path = scope.get("path", "")
        if caller is None:
            logger.info("%s %s answered %s without a valid key", scope["method"], path, status)
            return
        entry = {
            "tenant_id": caller.tenant_id,
            "key_id": caller.key_id,
            "user_id": caller.user_id,
            "ts": utcnow(),
            "method": scope["method"],
            "path": path[:2000],
            "action": str(state.get("endpoint", ""))[:64],
            "status": status,
            "request_id": request_id,
        }
        try:
            await anyio.to_thread.run_sync(lambda: self.access.audit(**entry))
        except Exception:  # the answer is sent; losing the entry must at least be loud
            logger.exception("audit entry not written: %s", entry)
