"""The client's HTTP: one ``httpx.Client`` (passed in), the key, errors turned into
``ApiError`` with the API's error body, and a wait on 429 as long as ``Retry-After`` says.

``operation("GET /v1/runs/{run_id}")`` marks the client method that calls an operation of the
OpenAPI document (the same ``"METHOD /path"`` key as the permission matrix), so a test can
check that every operation has one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from vitco.client.exceptions import ApiError, Unreachable

OPERATION = "__vitco_operation__"
"""The attribute ``operation`` sets on a method: the ``"METHOD /path"`` it calls."""
MAX_WAITS = 5  # answers 429 waited out before the error is raised
F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=BaseModel)


def operation(key: str) -> Callable[[F], F]:
    """Mark a method as the client of the API operation ``key`` (``"GET /v1/projects"``)."""

    def mark(method: F) -> F:
        setattr(method, OPERATION, key)
        return method

    return mark


def error_of(response: httpx.Response) -> ApiError:
    """The ``ApiError`` of an error answer (its one error body, or what there is)."""
    request_id = response.headers.get("x-request-id", "")
    try:
        error = response.json()["error"]
        return ApiError(
            response.status_code,
            str(error["code"]),
            str(error["message"]),
            error.get("details"),
            request_id,
        )
    except (ValueError, KeyError, TypeError):
        text = response.text.strip()[:300] or response.reason_phrase
        return ApiError(response.status_code, "error", text, None, request_id)


class Transport:
    """Requests to one server with one key (see the module docstring)."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_waits: int = MAX_WAITS,
    ) -> None:
        self.http = http
        self.sleep = sleep
        self.max_waits = max_waits

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """The server's success answer; ``ApiError`` for an error one, ``Unreachable`` when
        none came."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        for attempt in range(self.max_waits + 1):
            try:
                response = self.http.request(method, path, params=query, json=json)
            except httpx.TransportError as exc:
                raise Unreachable(str(self.http.base_url), str(exc) or type(exc).__name__) from exc
            if response.status_code == 429 and attempt < self.max_waits:
                self.sleep(float(response.headers.get("retry-after") or 1))
                continue
            if response.is_success:
                return response
            raise error_of(response)
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def model(self, model: type[M], method: str, path: str, **options: Any) -> M:
        """The answer parsed as ``model`` (one of the API's schemas)."""
        return model.model_validate_json(self.request(method, path, **options).content)
