"""Anthropic's Messages API as a vitco ``Model``.

Typed output comes from a forced tool use: the output schema is the input schema of one tool
and ``tool_choice`` names it, so the answer arrives as an already-parsed JSON object in a
``tool_use`` block. System messages move to the top-level ``system`` field, as the API wants.

Sampling parameters: the SDK this targets no longer documents ``temperature`` on
``messages.create``, so it is only sent (through ``extra_body``) when asked for.

The SDK client is passed in, with its retries off (``max_retries=0``): vitco's router retries.
Every vendor error, including an ``error`` event in the middle of a stream, is translated here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vitco.llm.exceptions import BadResponse, ProviderError
from vitco.llm.model import ModelRequest, ModelResponse, Usage
from vitco.llm.providers._common import (
    OwnsClient,
    dump_json,
    import_sdk,
    output_text,
    redact,
    tool_name,
    translate_sdk_error,
    truncation,
    typed_error,
)

if TYPE_CHECKING:
    import anthropic
    from anthropic.types import Message as AnthropicMessage

__all__ = ["DEFAULT_ANTHROPIC_BASE_URL", "AnthropicModel", "anthropic_client"]

DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com"
_TRUNCATED = ("max_tokens", "model_context_window_exceeded")


def anthropic_client(
    *,
    api_key: str,
    base_url: str | None = None,
    timeout: float = 120.0,
    default_headers: Mapping[str, str] | None = None,
) -> anthropic.Anthropic:
    """Build a sync ``anthropic.Anthropic`` client with SDK retries off (the router retries).

    The key is required: without one the SDK would go looking in the environment and in
    profile files, and vitco reads configuration in one place only.
    """
    sdk = import_sdk("anthropic", "anthropic")
    client: anthropic.Anthropic = sdk.Anthropic(
        api_key=api_key,
        base_url=base_url or DEFAULT_ANTHROPIC_BASE_URL,
        timeout=timeout,
        max_retries=0,
        default_headers=dict(default_headers) if default_headers else None,
    )
    return client


class AnthropicModel(OwnsClient):
    """A Claude model behind the Messages API.

    Args:
        client: a sync ``anthropic.Anthropic`` client (see :func:`anthropic_client`).
        model_name: e.g. ``claude-sonnet-4-5``.
        stream: stream the answer as server-sent events and assemble it.
        default_max_tokens: the API requires ``max_tokens``; used when a request has none.
        send_temperature: send ``ModelRequest.temperature`` (for models that still take it).
        owns_client: close the client in :meth:`close` (true when built by the registry).
    """

    provider = "anthropic"

    def __init__(
        self,
        client: anthropic.Anthropic,
        model_name: str,
        *,
        stream: bool = False,
        default_max_tokens: int = 8192,
        send_temperature: bool = False,
        owns_client: bool = False,
    ) -> None:
        self._sdk = import_sdk("anthropic", "anthropic")
        self._client = client
        self.model_name = model_name
        self.stream = stream
        self.default_max_tokens = default_max_tokens
        self.send_temperature = send_temperature
        self._owns_client = owns_client

    @classmethod
    def connect(
        cls,
        model_name: str,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 120.0,
        **options: Any,
    ) -> AnthropicModel:
        """Build the client from connection parameters; the model then owns and closes it."""
        client = anthropic_client(api_key=api_key, base_url=base_url, timeout=timeout)
        return cls(client, model_name, owns_client=True, **options)

    @property
    def id(self) -> str:
        """``anthropic:<model>``."""
        return f"{self.provider}:{self.model_name}"

    def request(self, request: ModelRequest) -> ModelResponse:
        """Ask for one typed answer; raise a ``ProviderError`` subclass on any failure."""
        params = self._params(request)
        name = params["tool_choice"]["name"]
        started = time.monotonic()
        try:
            if self.stream:
                text, from_tool, stop, usage = self._streamed(params, name)
            else:
                text, from_tool, stop, usage = self._single(params, name)
        except ProviderError:
            raise
        except Exception as exc:
            raise self._translate(exc) from (
                None if isinstance(exc, self._sdk.APIStatusError) else exc
            )
        limit = params["max_tokens"]
        if stop == "refusal":
            raise BadResponse(self.provider, "the model refused to answer", usage=usage)
        if stop in _TRUNCATED and from_tool:
            # A cut-off tool input can still parse (as a prefix object); never trust it.
            raise truncation(self.provider, limit, len(text or ""), usage)
        content = output_text(
            self.provider,
            text,
            truncated=stop is None,
            at_limit=stop in _TRUNCATED,
            limit=limit,
            usage=usage,
        )
        return ModelResponse(
            content=content, usage=usage, model=self.id, latency_s=time.monotonic() - started
        )

    # -- request ---------------------------------------------------------------------------

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        schema = request.output_schema
        name = tool_name(request.output_name)
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        turns: list[dict[str, Any]] = []
        for message in request.messages:
            if message.role == "system":
                continue
            if turns and turns[-1]["role"] == message.role:
                # The API wants alternating turns; merge consecutive ones.
                turns[-1]["content"] += "\n\n" + message.content
            else:
                turns.append({"role": message.role, "content": message.content})
        params: dict[str, Any] = {
            "model": self.model_name,
            "max_tokens": request.max_tokens or self.default_max_tokens,
            "messages": turns,
            "tools": [
                {
                    "name": name,
                    "description": schema.get("description")
                    or f"Record the {request.output_name}.",
                    "input_schema": schema,
                }
            ],
            "tool_choice": {"type": "tool", "name": name, "disable_parallel_tool_use": True},
        }
        if system:
            params["system"] = system
        # Always the client's own timeout: left unset, the SDK refuses non-streamed requests
        # with a large max_tokens on a default-timeout client instead of sending them.
        params["timeout"] = self._client.timeout
        if self.send_temperature:
            params["extra_body"] = {"temperature": request.temperature}
        return params

    # -- response --------------------------------------------------------------------------

    def _single(
        self, params: dict[str, Any], name: str
    ) -> tuple[str | None, bool, str | None, Usage]:
        message: AnthropicMessage = self._client.messages.create(**params)
        try:
            texts: list[str] = []
            for block in message.content or []:
                if block.type == "tool_use" and block.name == name:
                    stop = message.stop_reason
                    return dump_json(block.input), True, stop, _usage(message.usage)
                if block.type == "text":
                    texts.append(block.text)
            text = "".join(texts) if texts else None
            return text, False, message.stop_reason, _usage(message.usage)
        except (AttributeError, TypeError, KeyError) as exc:
            raise BadResponse(self.provider, f"unexpected response shape: {exc}") from exc

    def _streamed(
        self, params: dict[str, Any], name: str
    ) -> tuple[str | None, bool, str | None, Usage]:
        blocks: dict[int, tuple[str, str, list[str]]] = {}  # index -> (type, tool name, parts)
        stop: str | None = None
        counts: dict[str, int] = {}
        stream = self._client.messages.create(**params, stream=True)
        with stream:
            try:
                for event in stream:
                    if event.type == "message_start":
                        counts.update(_counts(event.message.usage))
                    elif event.type == "content_block_start":
                        block = event.content_block
                        tool = block.name if block.type == "tool_use" else ""
                        blocks[event.index] = (block.type, tool, [])
                    elif event.type == "content_block_delta":
                        delta = event.delta
                        parts = blocks.setdefault(event.index, ("text", "", []))[2]
                        if delta.type == "text_delta":
                            parts.append(delta.text)
                        elif delta.type == "input_json_delta":
                            parts.append(delta.partial_json)
                    elif event.type == "message_delta":
                        stop = event.delta.stop_reason or stop
                        counts.update(_counts(event.usage))
            except (AttributeError, TypeError, KeyError) as exc:
                raise BadResponse(self.provider, f"unexpected stream event: {exc}") from exc
        usage = _usage_from_counts(counts)
        for kind, tool, parts in blocks.values():
            if kind == "tool_use" and tool == name:
                return "".join(parts), True, stop, usage
        texts = ["".join(parts) for kind, _, parts in blocks.values() if kind == "text"]
        return ("".join(texts) or None), False, stop, usage

    def _translate(self, exc: Exception) -> ProviderError | Exception:
        secrets = [self._client.api_key, self._client.auth_token]
        if isinstance(exc, self._sdk.APIStatusError) and exc.status_code < 400:
            # An `event: error` inside a 200 stream: the HTTP status says nothing, the type does.
            detail = redact(str(exc.api_message or exc.message), secrets)
            return typed_error(self.provider, str(exc.type or ""), detail, exc.response.headers)
        return translate_sdk_error(self.provider, exc, self._sdk, secrets) or exc


def _counts(usage: object) -> dict[str, int]:
    """The token counts present (not None) on a usage object of the stream."""
    names = (
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
    )
    found = {name: getattr(usage, name, None) for name in names}
    return {name: int(value) for name, value in found.items() if isinstance(value, int)}


def _usage(usage: object) -> Usage:
    return _usage_from_counts(_counts(usage))


def _usage_from_counts(counts: Mapping[str, int]) -> Usage:
    """Our ``Usage``: ``input_tokens`` is the *total* input, cached tokens included.

    Anthropic reports uncached input, cache reads and cache writes separately; vitco (like
    OpenAI and genai-prices) counts all three as input and breaks the cached part out.
    """
    read = counts.get("cache_read_input_tokens", 0)
    write = counts.get("cache_creation_input_tokens", 0)
    return Usage(
        input_tokens=counts.get("input_tokens", 0) + read + write,
        output_tokens=counts.get("output_tokens", 0),
        cache_read_tokens=read,
        cache_write_tokens=write,
    )
