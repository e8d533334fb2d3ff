"""Errors of the API client::

    ClientError          anything the client could not do
    ├── Unreachable      the server did not answer (refused, timed out); carries the URL
    └── ApiError         the server answered with an error body; carries ``status``, ``code``,
                         ``message``, ``details`` and the ``request_id`` (``X-Request-Id``)

``ApiError.code`` is the API's (``not_found``, ``conflict``, ``rate_limited``...: docs/api.md).
"""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Base of the client's errors."""


class Unreachable(ClientError):
    def __init__(self, url: str, cause: str) -> None:
        self.url = url
        self.cause = cause
        super().__init__(f"vitco serve at {url} did not answer: {cause}")


class ApiError(ClientError):
    def __init__(
        self, status: int, code: str, message: str, details: Any = None, request_id: str = ""
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.request_id = request_id
        super().__init__(f"{message} ({status} {code})")
