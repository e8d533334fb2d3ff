"""The pages' client of the public API: every figure a page shows is read from ``/v1`` as the
browser's session (its cookie forwarded), through the same app in this process.

So the permission matrix, the tenant scoping, the rate limit and the error body apply to the
pages exactly as to any other client; a page never queries the store. The requests stay inside
the process (``httpx.ASGITransport`` on the running app: no socket, no second server).
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.requests import Request

from vitco.web.exceptions import ApiFailed

MAX_EVENTS = 5000  # a run page reads at most this many events of a run


class PageApi:
    """``GET``s to ``/v1`` as the session of ``request`` (see the module docstring)."""

    def __init__(self, request: Request, client: httpx.AsyncClient | None = None) -> None:
        headers = {"cookie": request.headers.get("cookie", "")}
        self.client = client or httpx.AsyncClient(
            transport=httpx.ASGITransport(app=request.app),
            base_url="http://vitco.pages",
            headers=headers,
            timeout=60,
        )

    async def __aenter__(self) -> PageApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def response(self, path: str, **params: Any) -> httpx.Response:
        query = {k: v for k, v in params.items() if v is not None}
        answer = await self.client.get(path, params=query)
        if answer.status_code >= 400:
            try:
                error = answer.json()["error"]
                code, message = str(error["code"]), str(error["message"])
            except (ValueError, KeyError, TypeError):
                code, message = "error", answer.text[:200]
            raise ApiFailed(answer.status_code, code, message)
        return answer

    async def get(self, path: str, **params: Any) -> Any:
        return (await self.response(path, **params)).json()

    async def items(self, path: str, **params: Any) -> list[Any]:
        body = await self.get(path, **params)
        items: list[Any] = body["items"]
        return items

    async def events(self, run_id: str) -> list[dict[str, Any]]:
        """The run's events, oldest first (at most ``MAX_EVENTS``)."""
        events: list[dict[str, Any]] = []
        since = 0
        while len(events) < MAX_EVENTS:
            page = await self.get(f"/v1/runs/{run_id}/events", since=since, limit=200)
            events.extend(page["items"])
            since = page["next_since"]
            if not page["more"]:
                break
        return events
