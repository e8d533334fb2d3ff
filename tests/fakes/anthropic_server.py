"""A fake Anthropic server: ``POST /v1/messages`` in the Messages API's wire format.

Scripted per test with the behaviours of :mod:`tests.fakes.llm_server` (re-exported here)::

    with FakeAnthropic(api_key="sk-ant-test") as server:
        server.queue(Fail(529, "Overloaded"), Reply({"title": "x"}))
        client = anthropic.Anthropic(base_url=server.base_url, api_key="sk-ant-test", max_retries=0)

Answers look like Anthropic's: a ``message`` object whose content is a ``tool_use`` block when
the request forced a tool (``tool_choice: {"type": "tool"}``), else a ``text`` block; with
``"stream": true`` the named SSE events ``message_start``, ``content_block_start``, ``ping``,
``content_block_delta`` (``text_delta`` / ``input_json_delta``), ``content_block_stop``,
``message_delta`` and ``message_stop``. Errors use ``{"type": "error", "error": {...}}``.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.llm_server import (
    Empty,
    Fail,
    FakeVendorServer,
    Hang,
    Malformed,
    RateLimit,
    Raw,
    RecordedRequest,
    Reply,
    Response,
    StreamError,
    StreamStall,
    Truncated,
    json_response,
    output_text,
    split_text,
    token_estimate,
)

__all__ = [
    "Empty",
    "Fail",
    "FakeAnthropic",
    "Hang",
    "Malformed",
    "RateLimit",
    "Raw",
    "Reply",
    "StreamError",
    "StreamStall",
    "Truncated",
]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}


class FakeAnthropic(FakeVendorServer):
    """A scripted Anthropic Messages API server; ``base_url`` is what the SDK takes."""

    vendor = "anthropic"

    @property
    def base_url(self) -> str:
        """What to pass as ``base_url`` to ``anthropic.Anthropic`` (the SDK adds ``/v1``)."""
        return self.url

    def check_auth(self, request: RecordedRequest) -> Response | None:
        if self.api_key is None:
            return None
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        given = request.headers.get("x-api-key") or bearer
        if given == self.api_key:
            return None
        return self.render_error(401, "authentication_error", f"invalid x-api-key: {given}")

    def render_error(self, status: int, kind: str, message: str) -> Response:
        return self._error(status, message, kind)

    def render(self, behaviour: Any, request: RecordedRequest, payload: Any) -> Response:
        if not request.path.rstrip("/").endswith("/v1/messages"):
            return self._error(404, f"Not found: {request.path}", "not_found_error")
        match behaviour:
            case Reply():
                return self._reply(behaviour, payload)
            case RateLimit(retry_after=after, retry_after_ms=after_ms, message=message):
                headers = {}
                if after is not None:
                    headers["retry-after"] = after
                if after_ms is not None:
                    headers["retry-after-ms"] = after_ms
                return self._error(429, message, "rate_limit_error", headers)
            case Fail(status=status, message=message, headers=headers):
                return self._error(status, message, None, headers)
            case Hang(seconds=seconds):
                return Response(hang=seconds)
            case Truncated(output=output) if payload.get("stream"):
                events = self._events(Reply(output), payload)
                return Response(
                    200,
                    headers=_SSE_HEADERS,
                    events=events,
                    stall_after=len(events) // 2,
                    stall_seconds=0,
                )
            case Truncated(output=output):
                full = self._reply(Reply(output, stream=False), payload)
                return Response(full.status, full.body, full.headers, truncate=True)
            case Malformed(body=body):
                return Response(200, body.encode(), {"content-type": "application/json"})
            case Empty():
                return json_response(
                    200, self._message(payload, [], "end_turn", _usage(None, payload, ""))
                )
            case StreamStall(reply=reply, after=after, seconds=seconds):
                events = self._events(reply, payload)
                return Response(
                    200,
                    headers=_SSE_HEADERS,
                    events=events,
                    stall_after=after,
                    stall_seconds=seconds,
                )
            case StreamError(reply=reply, after=after, error_type=kind, message=message):
                events = self._events(reply, payload)[:after]
                events.append(
                    _sse("error", {"type": "error", "error": {"type": kind, "message": message}})
                )
                return Response(200, headers=_SSE_HEADERS, events=events)
            case Raw(status=status, body=body, headers=headers):
                return Response(status, body, headers)
        raise TypeError(f"unknown behaviour {behaviour!r}")

    # -- rendering -------------------------------------------------------------------------

    def _error(self, status: int, message: str, kind: str | None, headers: Any = None) -> Response:
        kind = kind or _ERROR_TYPES.get(
            status, "api_error" if status >= 500 else "invalid_request_error"
        )
        body = {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": "req_fake1",
        }
        return json_response(status, body, {"request-id": "req_fake1", **(headers or {})})

    def _message(
        self, payload: Any, content: list[Any], stop: str | None, usage: Any
    ) -> dict[str, Any]:
        return {
            "id": "msg_fake1",
            "type": "message",
            "role": "assistant",
            "model": payload.get("model", "fake"),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }

    def _reply(self, reply: Reply, payload: Any) -> Response:
        stream = reply.stream if reply.stream is not None else bool(payload.get("stream"))
        if stream:
            return Response(200, headers=_SSE_HEADERS, events=self._events(reply, payload))
        text = output_text(reply.output)
        tool = _tool_for(reply, payload)
        if tool and not isinstance(reply.output, str):
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": "toolu_fake1",
                "name": tool,
                "input": reply.output,
            }
        else:
            tool = None
            block = {"type": "text", "text": text}
        stop = reply.finish_reason or ("tool_use" if tool else "end_turn")
        message = self._message(payload, [block], stop, _usage(reply, payload, text))
        if reply.model:
            message["model"] = reply.model
        return json_response(200, message)

    def _events(self, reply: Reply, payload: Any) -> list[bytes]:
        text = output_text(reply.output)
        tool = _tool_for(reply, payload)
        usage = _usage(reply, payload, text)
        start = self._message(payload, [], None, {**usage, "output_tokens": 1})
        if reply.model:
            start["model"] = reply.model
        events = [_sse("message_start", {"type": "message_start", "message": start})]
        if tool:
            block = {"type": "tool_use", "id": "toolu_fake1", "name": tool, "input": {}}
        else:
            block = {"type": "text", "text": ""}
        events.append(
            _sse(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": block},
            )
        )
        events.append(_sse("ping", {"type": "ping"}))
        for piece in split_text(text, reply.chunks):
            if tool:
                delta = {"type": "input_json_delta", "partial_json": piece}
            else:
                delta = {"type": "text_delta", "text": piece}
            events.append(
                _sse(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": delta},
                )
            )
        events.append(_sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
        stop = reply.finish_reason or ("tool_use" if tool else "end_turn")
        events.append(
            _sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": {"output_tokens": usage["output_tokens"]},
                },
            )
        )
        events.append(_sse("message_stop", {"type": "message_stop"}))
        return events


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _tool_for(reply: Reply, payload: Any) -> str | None:
    """The tool a reply uses: the one the request forces, unless ``as_tool`` says otherwise."""
    if reply.as_tool is False:
        return None
    choice = payload.get("tool_choice") or {}
    if isinstance(choice, dict) and choice.get("type") == "tool" and choice.get("name"):
        return str(choice["name"])
    tools = payload.get("tools") or []
    if reply.as_tool:
        return str(tools[0]["name"]) if tools else "output"
    return None


def _usage(reply: Reply | None, payload: Any, text: str) -> dict[str, Any]:
    """Anthropic-shaped usage; ``reply.usage`` keys override."""
    usage: dict[str, Any] = {
        "input_tokens": token_estimate(json.dumps(payload.get("messages", []))),
        "output_tokens": token_estimate(text) if text else 1,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    usage.update(dict(reply.usage or {}) if reply else {})
    return usage
