"""A fake OpenAI-compatible server: ``POST /v1/chat/completions`` in OpenAI's wire format.

Scripted per test with the behaviours of :mod:`tests.fakes.llm_server` (re-exported here)::

    with FakeOpenAI(api_key="sk-test") as server:
        server.queue(RateLimit(retry_after="2"), Reply({"title": "x"}))
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
        ...
        assert server.last.json["response_format"]["type"] == "json_schema"

Answers look like OpenAI's: a ``chat.completion`` object, or with ``"stream": true`` a
``text/event-stream`` of ``chat.completion.chunk`` objects ending in ``data: [DONE]``, with
a final usage chunk (empty ``choices``) when ``stream_options.include_usage`` is set.
A reply is a tool call when the request forced one through ``tool_choice``.

Like a real "compatible" server, it may refuse ways of asking for typed output:
``FakeOpenAI(response_formats={"text", "json_object"})`` answers a ``json_schema``
``response_format`` with llama-cpp-python's HTTP 500 ("response_format.type: Input should be
'text' or 'json_object'"), and ``tools=False`` refuses forced tool calls as llama.cpp's server
does without ``--jinja``. A refused request is recorded but consumes no scripted behaviour.
"""

from __future__ import annotations

import json
import time
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
    "FakeOpenAI",
    "Hang",
    "Malformed",
    "RateLimit",
    "Raw",
    "Reply",
    "StreamError",
    "StreamStall",
    "Truncated",
]

_SSE_DONE = b"data: [DONE]\n\n"


class FakeOpenAI(FakeVendorServer):
    """A scripted OpenAI-compatible server; ``base_url`` ends in ``/v1`` like OpenAI's."""

    vendor = "openai"

    def __init__(
        self,
        *,
        response_formats: set[str] | None = None,
        tools: bool = True,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.response_formats = response_formats
        self.tools = tools

    @property
    def base_url(self) -> str:
        """What to pass as ``base_url`` to ``openai.OpenAI``."""
        return f"{self.url}/v1"

    def check_auth(self, request: RecordedRequest) -> Response | None:
        if self.api_key is None:
            return self._refusal(request)
        given = request.headers.get("authorization", "")
        if given == f"Bearer {self.api_key}":
            return self._refusal(request)
        # OpenAI echoes (part of) the key it got; echo all of it to test redaction.
        key = given.removeprefix("Bearer ")
        return self._error(
            401,
            f"Incorrect API key provided: {key}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            kind="invalid_request_error",
            code="invalid_api_key",
        )

    def _refusal(self, request: RecordedRequest) -> Response | None:
        """The server's error for a structured-output request it does not take, if any."""
        try:
            payload = request.json
        except ValueError:
            return None
        if not isinstance(payload, dict):
            return None
        wanted = (payload.get("response_format") or {}).get("type")
        if wanted and self.response_formats is not None and wanted not in self.response_formats:
            allowed = " or ".join(f"'{kind}'" for kind in sorted(self.response_formats))
            return self._error(
                500,
                "1 validation error for CreateChatCompletionRequest\nresponse_format.type\n"
                f"  Input should be {allowed} [type=literal_error, input_value='{wanted}', "
                "input_type=str]",
                kind="internal_server_error",
            )
        if payload.get("tools") and not self.tools:
            return self._error(500, "tools param requires --jinja flag", kind="server_error")
        return None

    def render_error(self, status: int, kind: str, message: str) -> Response:
        return self._error(status, message, kind=kind)

    def render(self, behaviour: Any, request: RecordedRequest, payload: Any) -> Response:
        if not request.path.rstrip("/").endswith("/chat/completions"):
            return self._error(
                404, f"Invalid URL (POST {request.path})", kind="invalid_request_error"
            )
        match behaviour:
            case Reply():
                return self._reply(behaviour, payload)
            case RateLimit(retry_after=after, retry_after_ms=after_ms, message=message):
                headers = {}
                if after is not None:
                    headers["retry-after"] = after
                if after_ms is not None:
                    headers["retry-after-ms"] = after_ms
                return self._error(
                    429, message, kind="requests", code="rate_limit_exceeded", headers=headers
                )
            case Fail(status=status, message=message, headers=headers):
                kind = "server_error" if status >= 500 else "invalid_request_error"
                return self._error(status, message, kind=kind, headers=headers)
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
                return json_response(200, self._completion(payload, [], None))
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
                error = {"error": {"message": message, "type": kind, "param": None, "code": None}}
                events.append(b"data: " + json.dumps(error).encode() + b"\n\n")
                return Response(200, headers=_SSE_HEADERS, events=events)
            case Raw(status=status, body=body, headers=headers):
                return Response(status, body, headers)
        raise TypeError(f"unknown behaviour {behaviour!r}")

    # -- rendering -------------------------------------------------------------------------

    def _error(
        self,
        status: int,
        message: str,
        *,
        kind: str,
        code: str | None = None,
        headers: Any = None,
    ) -> Response:
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        return json_response(status, body, headers)

    def _reply(self, reply: Reply, payload: Any) -> Response:
        stream = reply.stream if reply.stream is not None else bool(payload.get("stream"))
        if stream:
            return Response(200, headers=_SSE_HEADERS, events=self._events(reply, payload))
        text = output_text(reply.output)
        tool = _forced_tool(payload) if reply.as_tool is not False else None
        if reply.as_tool and tool is None:
            tool = "output"
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if tool else text,
            "refusal": None,
        }
        if tool:
            message["tool_calls"] = [
                {
                    "id": "call_fake1",
                    "type": "function",
                    "function": {"name": tool, "arguments": text},
                }
            ]
        finish = reply.finish_reason or ("tool_calls" if tool else "stop")
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        return json_response(
            200, self._completion(payload, [choice], _usage(reply, payload, text), reply.model)
        )

    def _completion(
        self, payload: Any, choices: list[Any], usage: Any, model: str | None = None
    ) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake1",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model or payload.get("model", "fake"),
            "choices": choices,
            "usage": usage,
            "system_fingerprint": "fp_fake",
        }

    def _events(self, reply: Reply, payload: Any) -> list[bytes]:
        text = output_text(reply.output)
        tool = _forced_tool(payload) if reply.as_tool is not False else None
        if reply.as_tool and tool is None:
            tool = "output"
        include_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
        base = {
            "id": "chatcmpl-fake1",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": reply.model or payload.get("model", "fake"),
            "system_fingerprint": "fp_fake",
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            data: dict[str, Any] = {
                **base,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            if include_usage:
                data["usage"] = None
            return b"data: " + json.dumps(data).encode() + b"\n\n"

        if tool:
            first = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_fake1",
                        "type": "function",
                        "function": {"name": tool, "arguments": ""},
                    }
                ],
            }
        else:
            first = {"role": "assistant", "content": "", "refusal": None}
        events = [chunk(first)]
        for piece in split_text(text, reply.chunks):
            if tool:
                events.append(
                    chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                )
            else:
                events.append(chunk({"content": piece}))
        events.append(chunk({}, reply.finish_reason or ("tool_calls" if tool else "stop")))
        if include_usage:
            final: dict[str, Any] = {**base, "choices": [], "usage": _usage(reply, payload, text)}
            events.append(b"data: " + json.dumps(final).encode() + b"\n\n")
        events.append(_SSE_DONE)
        return events


_SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}


def _forced_tool(payload: Any) -> str | None:
    """The function a request forces through ``tool_choice``, if any."""
    choice = payload.get("tool_choice")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        return str(name) if name else None
    tools = payload.get("tools") or []
    if choice == "required" and tools:
        return str(tools[0]["function"]["name"])
    return None


def _usage(reply: Reply, payload: Any, text: str) -> dict[str, Any]:
    """OpenAI-shaped usage; ``reply.usage`` keys override (``cached_tokens`` goes in details)."""
    extra = dict(reply.usage or {})
    cached = extra.pop("cached_tokens", 0)
    usage: dict[str, Any] = {
        "prompt_tokens": token_estimate(json.dumps(payload.get("messages", []))),
        "completion_tokens": token_estimate(text),
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }
    usage.update(extra)
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return usage
