"""The Anthropic adapter against the fake Messages API: forced tool use, system, usage."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from tests.fakes import FakeAnthropic, Reply
from tests.fakes.llm_server import FakeVendorServer
from tests.llm.providers.conftest import ANTHROPIC_KEY, Harness, Spec, make_request
from vitco.llm.exceptions import BadResponse
from vitco.llm.model import Message, Model, Usage
from vitco.llm.providers.anthropic import AnthropicModel


def _sent(server: FakeVendorServer) -> dict[str, Any]:
    body: dict[str, Any] = server.last.json
    return body


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_forced_tool_use_request_and_answer(anthropic_harness: Harness, stream: bool) -> None:
    server = anthropic_harness.server
    output = {"title": "Todo", "tags": ["api", "sqlite"]}
    server.queue(Reply(output, chunks=5))
    model = anthropic_harness.model(stream=stream)

    response = model.request(make_request())

    assert Spec.model_validate_json(response.content) == Spec(**output)
    assert response.model == "anthropic:claude-fake-1" == model.id
    assert server.last.path == "/v1/messages"
    sent = _sent(server)
    assert sent["model"] == "claude-fake-1"
    assert sent["tools"] == [
        {
            "name": "Spec",
            "description": "A typed output as agents ask for one.",
            "input_schema": Spec.model_json_schema(),
        }
    ]
    assert sent["tool_choice"] == {
        "type": "tool",
        "name": "Spec",
        "disable_parallel_tool_use": True,
    }
    assert sent["system"] == "You are the analyst."
    assert sent["messages"] == [{"role": "user", "content": "Write the spec for a todo app."}]
    assert sent["max_tokens"] == 256
    assert "temperature" not in sent
    assert sent.get("stream", False) is stream


def test_key_and_version_headers(anthropic_harness: Harness) -> None:
    server = anthropic_harness.server
    server.queue(Reply({"title": "x"}))
    anthropic_harness.model().request(make_request())
    headers = server.last.headers
    # this SDK sends the key as a bearer token; older ones used x-api-key
    sent_key = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
    assert sent_key == ANTHROPIC_KEY
    assert headers.get("anthropic-version")


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_usage_counts_cached_input_as_input(anthropic_harness: Harness, stream: bool) -> None:
    usage = {
        "input_tokens": 10,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 20,
        "output_tokens": 7,
    }
    anthropic_harness.server.queue(Reply({"title": "x"}, usage=usage))
    response = anthropic_harness.model(stream=stream).request(make_request())
    assert response.usage == Usage(
        input_tokens=130, output_tokens=7, cache_read_tokens=100, cache_write_tokens=20
    )


def test_system_messages_join_and_turns_alternate(anthropic_harness: Harness) -> None:
    server = anthropic_harness.server
    server.queue(Reply({"title": "x"}))
    messages = (
        Message(role="system", content="Rule one."),
        Message(role="user", content="First."),
        Message(role="user", content="Second."),
        Message(role="system", content="Rule two."),
        Message(role="assistant", content="Noted."),
        Message(role="user", content="Go."),
    )
    anthropic_harness.model().request(make_request(messages=messages))
    sent = _sent(server)
    assert sent["system"] == "Rule one.\n\nRule two."
    assert sent["messages"] == [
        {"role": "user", "content": "First.\n\nSecond."},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": "Go."},
    ]


def test_default_max_tokens_and_optional_temperature(anthropic_harness: Harness) -> None:
    server = anthropic_harness.server
    server.queue(Reply({"title": "x"}))
    model = anthropic_harness.model(default_max_tokens=1234, send_temperature=True)
    model.request(make_request(max_tokens=None))
    sent = _sent(server)
    assert sent["max_tokens"] == 1234
    assert sent["temperature"] == 0.0


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_text_answer_with_json_is_accepted(anthropic_harness: Harness, stream: bool) -> None:
    anthropic_harness.server.queue(Reply('```json\n{"title": "in text"}\n```', as_tool=False))
    response = anthropic_harness.model(stream=stream).request(make_request())
    assert json.loads(response.content) == {"title": "in text"}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_tool_input_cut_off_at_max_tokens_is_bad_response(
    anthropic_harness: Harness, stream: bool
) -> None:
    # Even when the partial input happens to be a complete object, it cannot be trusted.
    anthropic_harness.server.queue(Reply({"title": "half"}, finish_reason="max_tokens"))
    with pytest.raises(BadResponse, match="max_tokens=256"):
        anthropic_harness.model(stream=stream).request(make_request())


def test_refusal_is_bad_response(anthropic_harness: Harness) -> None:
    anthropic_harness.server.queue(Reply("I can't help with that.", finish_reason="refusal"))
    with pytest.raises(BadResponse, match="refused"):
        anthropic_harness.model().request(make_request())


def test_model_satisfies_the_protocol(anthropic_harness: Harness) -> None:
    assert isinstance(anthropic_harness.model(), Model)


def test_a_large_max_tokens_on_a_default_timeout_client_is_still_sent(
    anthropic_harness: Harness,
) -> None:
    server = anthropic_harness.server
    assert isinstance(server, FakeAnthropic)
    server.queue(Reply({"title": "x"}))
    client = anthropic.Anthropic(base_url=server.base_url, api_key=ANTHROPIC_KEY, max_retries=0)
    try:
        response = AnthropicModel(client, "claude-fake-1").request(make_request(max_tokens=64_000))
    finally:
        client.close()
    assert json.loads(response.content) == {"title": "x"}
    assert server.last.json["max_tokens"] == 64_000
