"""What the vendor adapters share: lazy SDK import, error translation, JSON output, redaction.

Both SDKs raise the same *kinds* of error (a status error carrying the HTTP response, a
connection error, a timeout, a validation error) and both can hand back output that is not
the JSON we asked for. The decisions about what each kind means for vitco (retry later, fall
back, give up, repair) are made here once, so the two adapters cannot drift apart; each adapter
only says which of its SDK's classes is which.
"""

from __future__ import annotations

import importlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import ModuleType, TracebackType
from typing import Any, Self

from vitco.llm.exceptions import (
    AnswerTruncated,
    BadResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from vitco.llm.model import Usage

REDACTED = "[REDACTED]"

_FENCE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n(?P<body>.*?)\n?```\s*$", re.DOTALL)
_TOOL_NAME = re.compile(r"[^a-zA-Z0-9_-]")


def import_sdk(module: str, extra: str) -> ModuleType:
    """Import a vendor SDK, or raise an ``ImportError`` that names the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"the {module!r} package is needed for this model; install it with "
            f"`pip install 'vitco[{extra}]'`"
        ) from exc


def tool_name(output_name: str) -> str:
    """A name vendors accept for a tool or schema (``^[a-zA-Z0-9_-]{1,64}$``)."""
    name = _TOOL_NAME.sub("_", output_name)[:64]
    return name or "output"


def parse_retry_after(
    headers: Mapping[str, str] | None, now: datetime | None = None
) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date).

    Returns ``None`` when the server did not say or said something unreadable; never negative.
    """
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return max(0.0, value)
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Remove every secret (an API key) from ``text``; vendors echo keys in 401 bodies."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


def status_error(
    provider: str,
    status: int,
    headers: Mapping[str, str] | None,
    detail: str,
) -> ProviderError:
    """Translate an HTTP error status to our error tree.

    429 is rate limiting (with ``retry_after`` when the server said), 408 a timeout, 5xx
    (including Anthropic's 529 "overloaded") unavailability; any other 4xx is a plain
    ``ProviderError`` with the status, which the router does not retry.
    """
    message = f"HTTP {status}: {detail}" if detail else f"HTTP {status}"
    if status == 429:
        return RateLimited(provider, message, retry_after=parse_retry_after(headers))
    if status == 408:
        return ProviderTimeout(provider, message, status=status)
    if status >= 500:
        return ProviderUnavailable(provider, message, status=status)
    return ProviderError(provider, message, status=status)


def error_detail(body: object, fallback: str) -> str:
    """The human-readable message inside a vendor's error body, else ``fallback``."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            message = inner.get("message")
            if isinstance(message, str) and message:
                return message
        message = body.get("message")
        if isinstance(message, str) and message:
            return message
    if isinstance(body, str) and body:
        return body[:500]
    return fallback


def json_text(text: str) -> str | None:
    """Canonical JSON text of ``text`` if it is JSON (optionally inside a code fence), else None.

    Local models in JSON mode like to wrap their answer in a Markdown fence; unwrapping it is
    cheap and saves a repair turn.
    """
    candidate = text.strip()
    fenced = _FENCE.match(candidate)
    if fenced:
        candidate = fenced.group("body").strip()
    try:
        value = json.loads(candidate)
    except ValueError:
        return None
    return dump_json(value)


def dump_json(value: Any) -> str:
    """The one serialisation of an output we hand upwards (compact, UTF-8 kept)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def output_text(
    provider: str,
    text: str | None,
    *,
    truncated: bool,
    limit: int | None,
    usage: Usage | None = None,
    at_limit: bool = False,
) -> str:
    """Turn a model's raw output into the ``ModelResponse.content`` we return.

    Empty output is a ``BadResponse``. Output cut off at the token limit (``at_limit``: the
    provider said so) that is not JSON is ``AnswerTruncated``, so that it is not asked for
    again unchanged; output that ended early for another reason (a stream without a finish)
    is a ``BadResponse`` (repairing half an answer is pointless). Complete output that is not
    JSON is returned verbatim: the agent layer validates it and asks the model to repair it,
    which needs the model's own words. Errors carry ``usage``: the request was billed.
    """
    if text is None or not text.strip():
        if at_limit:
            raise truncation(provider, limit, 0, usage)
        raise BadResponse(provider, "the response has no content", usage=usage)
    parsed = json_text(text)
    if parsed is not None:
        return parsed
    if at_limit:
        raise truncation(provider, limit, len(text), usage)
    if truncated:
        raise BadResponse(
            provider,
            f"the output was cut off early and is not valid JSON ({len(text)} chars)",
            usage=usage,
        )
    return text


def truncation(
    provider: str, limit: int | None, chars: int, usage: Usage | None
) -> AnswerTruncated:
    """The error of an answer cut at the output token limit."""
    where = f"max_tokens={limit}" if limit is not None else "the output token limit"
    return AnswerTruncated(
        provider,
        f"the output was cut off at {where} and is not valid JSON ({chars} chars)",
        limit=limit,
        usage=usage,
    )


_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")
_SCHEMA_ONES = ("items", "additionalProperties", "not", "if", "then", "else", "contains")


def is_strict_compatible(schema: Any) -> bool:
    """True when OpenAI's ``strict`` structured output accepts ``schema`` unchanged.

    Strict mode needs every object to forbid extra properties and to require all of them;
    pydantic emits neither by default, so vitco asks for strict mode only when the schema
    already qualifies rather than rewriting it (and changing what validates).
    """
    if not isinstance(schema, dict):
        return True
    properties = schema.get("properties")
    if schema.get("type") == "object" or properties is not None:
        if schema.get("additionalProperties") is not False:
            return False
        names = set(properties) if isinstance(properties, dict) else set()
        if set(schema.get("required", [])) != names:
            return False
    children: list[Any] = []
    for key in _SCHEMA_MAPS:
        if isinstance(schema.get(key), dict):
            children.extend(schema[key].values())
    for key in _SCHEMA_LISTS:
        if isinstance(schema.get(key), list):
            children.extend(schema[key])
    children.extend(schema[key] for key in _SCHEMA_ONES if isinstance(schema.get(key), dict))
    return all(is_strict_compatible(child) for child in children)


def _transport_classes() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(timeout, other transport) exception classes of the HTTP stacks the SDKs run on.

    The SDKs wrap transport errors of the request itself, but not always those raised while a
    stream is being read, so the adapters meet the raw ones too.
    """
    timeouts: list[type[BaseException]] = []
    transports: list[type[BaseException]] = []
    for name in ("httpx2", "httpx"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        timeouts.append(module.TimeoutException)
        transports.append(module.TransportError)
    return tuple(timeouts), tuple(transports)


def _is_cut_off(exc: BaseException) -> bool:
    """A connection that dropped in the middle of a response body (not one that never opened)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__name__ in ("RemoteProtocolError", "IncompleteRead"):
            return True
        current = current.__cause__ or current.__context__
    return False


def translate_sdk_error(
    provider: str, exc: Exception, sdk: ModuleType, secrets: Iterable[str | None]
) -> ProviderError | None:
    """Map an exception raised by an OpenAI-style SDK (``openai``, ``anthropic``) to our tree.

    Both SDKs share the class names used here. Returns ``None`` for exceptions that are not a
    vendor or transport failure (a bug of ours), which the caller re-raises unchanged.
    """
    secrets = tuple(secrets)
    timeouts, transports = _transport_classes()
    if isinstance(exc, (sdk.APITimeoutError, *timeouts)):
        return ProviderTimeout(provider, "no answer within the timeout")
    if isinstance(exc, sdk.APIStatusError):
        detail = redact(error_detail(exc.body, str(exc.message)), secrets)
        return status_error(provider, exc.status_code, exc.response.headers, detail)
    if isinstance(exc, sdk.APIResponseValidationError):
        return BadResponse(provider, redact(f"unexpected response: {exc.message}", secrets))
    if isinstance(exc, (sdk.APIConnectionError, *transports)):
        if _is_cut_off(exc):
            return BadResponse(provider, "the response body was cut off before it was complete")
        cause = exc.__cause__ or exc
        return ProviderUnavailable(provider, redact(f"connection failed: {cause!r}", secrets))
    if isinstance(exc, ValueError):
        # json.JSONDecodeError and pydantic.ValidationError on a body that is not the API's shape
        return BadResponse(provider, redact(f"unreadable response body: {exc}", secrets)[:500])
    if isinstance(exc, sdk.APIError):
        # An error sent inside a stream that had already started with HTTP 200.
        kind = error_type(exc.body) or str(getattr(exc, "type", None) or "")
        return typed_error(provider, kind, redact(str(exc.message), secrets), None)
    return None


def error_type(body: object) -> str:
    """The ``type`` (else ``code``) of a vendor error body, or ``""``."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            for key in ("type", "code"):
                value = inner.get(key)
                if isinstance(value, str) and value:
                    return value
    return ""


_RATE_LIMIT_TYPES = frozenset({"rate_limit_error", "rate_limit_exceeded", "requests", "tokens"})
_UNAVAILABLE_TYPES = frozenset(
    {"overloaded_error", "api_error", "server_error", "internal_error", "service_unavailable"}
)


def typed_error(
    provider: str, kind: str, detail: str, headers: Mapping[str, str] | None
) -> ProviderError:
    """Translate an error known only by its vendor type name (a mid-stream ``error`` event).

    The HTTP status was 200 by then, so the type is all there is to go on.
    """
    message = f"{kind}: {detail}" if kind else detail
    if kind in _RATE_LIMIT_TYPES:
        return RateLimited(provider, message, retry_after=parse_retry_after(headers))
    if kind in _UNAVAILABLE_TYPES:
        return ProviderUnavailable(provider, message)
    if kind == "timeout_error":
        return ProviderTimeout(provider, message)
    return ProviderError(provider, message)


class OwnsClient:
    """``close()`` and ``with`` for a model that may have built (and so owns) its SDK client;
    a client passed in by the caller stays the caller's to close."""

    _client: Any
    _owns_client: bool

    def close(self) -> None:
        """Close the client if this model built it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
