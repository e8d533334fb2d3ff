"""Any OpenAI-compatible chat-completions endpoint as a vitco ``Model``.

One adapter serves OpenAI itself and the servers that copy its wire format (Ollama, vLLM,
llama.cpp server, LM Studio, OpenRouter, Groq): only the base URL, the key and a few switches
differ. The switches exist because "compatible" servers differ exactly where vitco needs them:
not all accept ``response_format={"type": "json_schema"}`` (some only do forced tool calls, some
only JSON mode), and OpenAI's newer models want ``max_completion_tokens`` instead of
``max_tokens``.

The SDK client is passed in; retries are disabled on it (``max_retries=0``) because vitco's
router owns retrying, backoff and fallback. Every vendor error is translated here.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from vitco.llm.exceptions import BadResponse, ProviderError, StructuredModeRefused
from vitco.llm.model import Message, ModelRequest, ModelResponse, Usage
from vitco.llm.modes import StructuredMode, next_mode
from vitco.llm.providers._common import (
    OwnsClient,
    dump_json,
    import_sdk,
    is_strict_compatible,
    output_text,
    tool_name,
    translate_sdk_error,
)

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletion
    from openai.types.completion_usage import CompletionUsage

__all__ = [
    "DEFAULT_OPENAI_BASE_URL",
    "MaxTokensParam",
    "OpenAIModel",
    "StructuredMode",
    "openai_client",
]

MaxTokensParam = Literal["max_tokens", "max_completion_tokens"]

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
# Sent when a local server needs no key: the SDK refuses to start without one and would
# otherwise fall back to reading OPENAI_API_KEY from the environment.
NO_KEY = "not-needed"


def openai_client(
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout: float = 120.0,
    default_headers: Mapping[str, str] | None = None,
) -> openai.OpenAI:
    """Build a sync ``openai.OpenAI`` client with SDK retries off (the router retries).

    ``base_url`` defaults to OpenAI's; ``api_key`` may be ``None`` for local servers.
    """
    sdk = import_sdk("openai", "openai")
    client: openai.OpenAI = sdk.OpenAI(
        base_url=base_url or DEFAULT_OPENAI_BASE_URL,
        api_key=api_key or NO_KEY,
        timeout=timeout,
        max_retries=0,
        default_headers=dict(default_headers) if default_headers else None,
    )
    return client


class OpenAIModel(OwnsClient):
    """A model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        client: a sync ``openai.OpenAI`` client (see :func:`openai_client`).
        model_name: the model as the server names it, e.g. ``gpt-4o-mini`` or ``llama3.2``.
        provider: the prefix of :attr:`id` (``openai``, ``ollama``, ``groq``...).
        structured: how to ask for typed output first: ``json_schema``
            (``response_format``), ``tool`` (a forced function call), ``json_object`` (JSON
            mode plus the schema in the system prompt) or ``prompt`` (the schema in the
            prompt only). When the server refuses it, the model moves to the next mode in
            that order and raises ``StructuredModeRefused`` (see :mod:`vitco.llm.modes`).
        stream: stream the answer (``stream_options.include_usage`` keeps token counts).
        strict: OpenAI strict schema mode; ``None`` turns it on only for schemas that
            already satisfy it.
        max_tokens_param: the request field that carries ``ModelRequest.max_tokens``.
        send_temperature: reasoning models reject ``temperature``; set False for them.
        owns_client: close the client in :meth:`close` (true when built by the registry).
    """

    def __init__(
        self,
        client: openai.OpenAI,
        model_name: str,
        *,
        provider: str = "openai",
        structured: StructuredMode = "json_schema",
        stream: bool = False,
        strict: bool | None = None,
        max_tokens_param: MaxTokensParam = "max_tokens",
        send_temperature: bool = True,
        owns_client: bool = False,
    ) -> None:
        self._sdk = import_sdk("openai", "openai")
        self._client = client
        self.model_name = model_name
        self.provider = provider
        self.structured: StructuredMode = structured
        self.stream = stream
        self.strict = strict
        self.max_tokens_param: MaxTokensParam = max_tokens_param
        self.send_temperature = send_temperature
        self._owns_client = owns_client
        self._lock = threading.Lock()

    @classmethod
    def connect(
        cls,
        model_name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        provider: str = "openai",
        **options: Any,
    ) -> OpenAIModel:
        """Build the client from connection parameters; the model then owns and closes it."""
        client = openai_client(base_url=base_url, api_key=api_key, timeout=timeout)
        return cls(client, model_name, provider=provider, owns_client=True, **options)

    @property
    def id(self) -> str:
        """``provider:model``, e.g. ``openai:gpt-4o-mini`` or ``ollama:llama3.2``."""
        return f"{self.provider}:{self.model_name}"

    def request(self, request: ModelRequest) -> ModelResponse:
        """Ask for one typed answer; raise a ``ProviderError`` subclass on any failure."""
        mode = self.structured
        params = self._params(request, mode)
        started = time.monotonic()
        try:
            if self.stream:
                text, finish, usage = self._streamed(params, request.output_name, mode)
            else:
                text, finish, usage = self._single(params, request.output_name, mode)
        except ProviderError:
            raise
        except Exception as exc:
            translated = translate_sdk_error(self.provider, exc, self._sdk, [self._client.api_key])
            if translated is None:
                raise
            if refuses_mode(translated, mode):
                translated = self._refused(translated, mode)
            raise translated from (None if isinstance(exc, self._sdk.APIStatusError) else exc)
        if finish == "content_filter":
            raise BadResponse(
                self.provider, "the answer was withheld by the content filter", usage=usage
            )
        content = output_text(
            self.provider,
            text,
            truncated=finish is None,
            at_limit=finish == "length",
            limit=request.max_tokens,
            usage=usage,
        )
        return ModelResponse(
            content=content, usage=usage, model=self.id, latency_s=time.monotonic() - started
        )

    def _refused(self, error: ProviderError, mode: StructuredMode) -> StructuredModeRefused:
        """Move to the mode after ``mode`` (unless another call already moved further)."""
        fallback = next_mode(mode)
        with self._lock:
            if fallback is not None and self.structured == mode:
                self.structured = fallback
        detail = str(error).removeprefix(f"{self.provider}: ")
        return StructuredModeRefused(
            self.provider,
            f"structured mode {mode} refused ({detail})"
            + (f"; trying {fallback}" if fallback else "; no other mode to try"),
            status=error.status,
            mode=mode,
            fallback=fallback,
        )

    # -- request ---------------------------------------------------------------------------

    def _params(self, request: ModelRequest, mode: StructuredMode) -> dict[str, Any]:
        schema = request.output_schema
        name = tool_name(request.output_name)
        strict = is_strict_compatible(schema) if self.strict is None else self.strict
        messages = list(request.messages)
        params: dict[str, Any] = {"model": self.model_name}
        if mode == "json_schema":
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": strict},
            }
        elif mode == "tool":
            function: dict[str, Any] = {
                "name": name,
                "description": schema.get("description") or f"Record the {request.output_name}.",
                "parameters": schema,
            }
            if strict:
                function["strict"] = True
            params["tools"] = [{"type": "function", "function": function}]
            params["tool_choice"] = {"type": "function", "function": {"name": name}}
        else:
            if mode == "json_object":
                params["response_format"] = {"type": "json_object"}
            messages = _with_schema_instruction(messages, schema)
        params["messages"] = [{"role": m.role, "content": m.content} for m in messages]
        if self.send_temperature:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            params[self.max_tokens_param] = request.max_tokens
        if self.stream:
            params["stream"] = True
            params["stream_options"] = {"include_usage": True}
        return params

    # -- response --------------------------------------------------------------------------

    def _single(
        self, params: dict[str, Any], output_name: str, mode: StructuredMode
    ) -> tuple[str | None, str | None, Usage]:
        completion: ChatCompletion = self._client.chat.completions.create(**params)
        try:
            choices = completion.choices
            if not choices:
                raise BadResponse(self.provider, "the response has no choices")
            choice = choices[0]
            message = choice.message
            if message.refusal:
                raise BadResponse(self.provider, f"the model refused: {message.refusal[:300]}")
            text = message.content
            if mode == "tool":
                arguments = [
                    call.function.arguments
                    for call in message.tool_calls or []
                    if call.type == "function"
                    and call.function.name in (tool_name(output_name), output_name)
                ]
                text = arguments[0] if arguments else text
            return text, choice.finish_reason, _usage(completion.usage)
        except (AttributeError, TypeError, KeyError, IndexError) as exc:
            raise BadResponse(self.provider, f"unexpected response shape: {exc}") from exc

    def _streamed(
        self, params: dict[str, Any], output_name: str, mode: StructuredMode
    ) -> tuple[str | None, str | None, Usage]:
        content: list[str] = []
        refusal: list[str] = []
        calls: dict[int, tuple[list[str], list[str]]] = {}  # index -> (name parts, argument parts)
        finish: str | None = None
        usage = Usage()
        stream = self._client.chat.completions.create(**params)
        with stream:
            try:
                for chunk in stream:
                    if chunk.usage is not None:
                        usage = _usage(chunk.usage)
                    for choice in chunk.choices or []:
                        if choice.index != 0:
                            continue
                        delta = choice.delta
                        if delta.content:
                            content.append(delta.content)
                        if delta.refusal:
                            refusal.append(delta.refusal)
                        for call in delta.tool_calls or []:
                            names, arguments = calls.setdefault(call.index, ([], []))
                            if call.function is not None and call.function.name:
                                names.append(call.function.name)
                            if call.function is not None and call.function.arguments:
                                arguments.append(call.function.arguments)
                        if choice.finish_reason:
                            finish = choice.finish_reason
            except (AttributeError, TypeError, KeyError) as exc:
                raise BadResponse(self.provider, f"unexpected stream chunk: {exc}") from exc
        if refusal:
            raise BadResponse(self.provider, f"the model refused: {''.join(refusal)[:300]}")
        text: str | None = "".join(content) if content else None
        if mode == "tool":
            wanted = (tool_name(output_name), output_name)
            for names, arguments in calls.values():
                if "".join(names) in wanted:
                    text = "".join(arguments)
                    break
        return text, finish, usage


# What a server says when it does not take a mode's request fields. llama.cpp's server:
# "response_format.type: Input should be 'text' or 'json_object'"; others name the field, or
# say tools or tool_choice are not supported.
_MODE_WORDS = {
    "json_schema": re.compile(r"response_format|json_schema", re.IGNORECASE),
    "tool": re.compile(r"\btools?\b|tool_choice|function", re.IGNORECASE),
    "json_object": re.compile(r"response_format|json_object", re.IGNORECASE),
}


def refuses_mode(error: ProviderError, mode: StructuredMode) -> bool:
    """True when ``error`` is the server refusing how ``mode`` asks for typed output: a 400,
    422, 500 or 501 whose message names the fields that mode sends."""
    words = _MODE_WORDS.get(mode)
    if words is None or error.status not in (400, 422, 500, 501):
        return False
    return words.search(str(error)) is not None


def _with_schema_instruction(messages: list[Message], schema: dict[str, Any]) -> list[Message]:
    """Put the schema into the (first) system message: JSON mode constrains syntax only."""
    instruction = (
        "Answer with one JSON object, and nothing else, that validates against this JSON "
        f"schema:\n{dump_json(schema)}"
    )
    if messages and messages[0].role == "system":
        first = Message(role="system", content=f"{messages[0].content}\n\n{instruction}")
        return [first, *messages[1:]]
    return [Message(role="system", content=instruction), *messages]


def _usage(usage: CompletionUsage | None) -> Usage:
    """Token counts; ``input_tokens`` includes cached prompt tokens (OpenAI's own convention)."""
    if usage is None:
        return Usage()
    details = getattr(usage, "prompt_tokens_details", None)
    return Usage(
        input_tokens=getattr(usage, "prompt_tokens", None) or 0,
        output_tokens=getattr(usage, "completion_tokens", None) or 0,
        cache_read_tokens=(getattr(details, "cached_tokens", None) or 0) if details else 0,
        cache_write_tokens=(getattr(details, "cache_write_tokens", None) or 0) if details else 0,
    )
