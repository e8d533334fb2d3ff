"""Errors of the API, each answered with one body everywhere::

    {"error": {"code": "...", "message": "...", "details": ...}}

::

    ApiError              an answer other than success (carries status, code, message, details)
    ├── Unauthorized      401: no key, an unknown, revoked or expired one (one message for all)
    ├── Unsigned          401: a webhook whose signature is missing or wrong (or no such tenant)
    ├── Forbidden         403: the key's role may not call this endpoint
    ├── CsrfRefused       403: a session cookie without its CSRF token, or a WebSocket from
    │                     another site (``vitco.api.sessions``)
    ├── Conflict          409: the resource is not in a state that allows it (carries details)
    ├── Unprocessable     422: well-formed but refused (a model or template this server refuses)
    └── TooManyRequests   429: the key's rate limit; ``retry_after`` seconds (Retry-After)

    Lagging               a live stream's client fell too far behind and is dropped (``last``:
                          the last seq it received, where it resumes with ``since``)

Errors of the layers below are translated by the handlers in ``vitco.api.errors`` (a row
that is not there or is another tenant's: 404; a brief or template the workflow refuses: 422).
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 500
    code = "internal"

    def __init__(self, message: str, details: Any = None) -> None:
        self.message = message
        self.details = details
        super().__init__(message)


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"

    def __init__(self) -> None:
        super().__init__("a valid API key is required: Authorization: Bearer <key>")


class Unsigned(ApiError):
    status = 401
    code = "unauthorized"

    def __init__(self, reason: str) -> None:
        super().__init__(f"the webhook is refused: {reason}")


class Forbidden(ApiError):
    status = 403
    code = "forbidden"

    def __init__(self, role: str, endpoint: str) -> None:
        super().__init__(
            f"the role {role!r} may not call {endpoint}", {"role": role, "endpoint": endpoint}
        )


class CsrfRefused(ApiError):
    status = 403
    code = "csrf"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class Unprocessable(ApiError):
    status = 422
    code = "rejected"


class TooManyRequests(ApiError):
    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"too many requests with this key; retry after {retry_after:.1f} s",
            {"retry_after_s": round(retry_after, 3)},
        )


class Lagging(Exception):
    """A live subscription fell too far behind its events and was dropped: its client
    resumes with ``since=last`` and loses nothing."""

    def __init__(self, last: int) -> None:
        self.last = last
        super().__init__(f"the client fell behind; resume with since={last}")
