"""The OpenAI-compatible adapter against the fake server: what it sends, what it returns."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fakes import Raw, Reply
from tests.fakes.llm_server import FakeVendorServer
from tests.llm.providers.conftest import OPENAI_KEY, Harness, Spec, make_request
from vitco.llm.exceptions import BadResponse
from vitco.llm.model import Message, Model, Usage

STRICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"title": {"type": "string"}},
    "required": ["title"],
    "additionalProperties": False,
}


def _sent(server: FakeVendorServer) -> dict[str, Any]:
    body: dict[str, Any] = server.last.json
    return body


def test_json_schema_output_request_and_usage(openai_harness: Harness) -> None:
    server = openai_harness.server
    server.queue(
        Reply(
            {"title": "Todo", "tags": ["api"]},
            usage={"prompt_tokens": 120, "completion_tokens": 30, "cached_tokens": 100},
        )
    )
    model = openai_harness.model()

    response = model.request(make_request())

    assert Spec.model_validate_json(response.content) == Spec(title="Todo", tags=["api"])
    assert response.model == "openai:gpt-4o-mini" == model.id
    assert response.usage == Usage(input_tokens=120, output_tokens=30, cache_read_tokens=100)
    assert response.latency_s > 0
    assert server.last.path == "/v1/chat/completions"
    assert server.last.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    sent = _sent(server)
    assert sent["model"] == "gpt-4o-mini"
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Spec", "schema": Spec.model_json_schema(), "strict": False},
    }
    assert sent["messages"] == [
        {"role": "system", "content": "You are the analyst."},
        {"role": "user", "content": "Write the spec for a todo app."},
    ]
    assert sent["temperature"] == 0.0
    assert sent["max_tokens"] == 256
    assert "tools" not in sent and "stream" not in sent


def test_strict_mode_only_for_schemas_that_allow_it(openai_harness: Harness) -> None:
    server = openai_harness.server
    server.queue(Reply({"title": "x"}), Reply({"title": "x"}))
    model = openai_harness.model()
    model.request(make_request(output_schema=STRICT_SCHEMA))
    assert _sent(server)["response_format"]["json_schema"]["strict"] is True
    model = openai_harness.model(strict=False)
    model.request(make_request(output_schema=STRICT_SCHEMA))
    assert _sent(server)["response_format"]["json_schema"]["strict"] is False


@pytest.mark.parametrize("stream", [False, True])
def test_tool_mode_forces_one_function_call(openai_harness: Harness, stream: bool) -> None:
    server = openai_harness.server
    server.queue(Reply({"title": "From a tool"}))
    model = openai_harness.model(structured="tool", stream=stream)

    response = model.request(make_request())

    assert json.loads(response.content) == {"title": "From a tool"}
    sent = _sent(server)
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "Spec",
                "description": "A typed output as agents ask for one.",
                "parameters": Spec.model_json_schema(),
            },
        }
    ]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "Spec"}}
    assert "response_format" not in sent


def test_tool_mode_rejects_a_call_to_another_function(openai_harness: Harness) -> None:
    # A server that calls some other function has not answered the request.
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "other", "arguments": "{}"}}
        ],
    }
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
    }
    openai_harness.server.queue(
        Raw(200, json.dumps(body).encode(), {"content-type": "application/json"})
    )
    with pytest.raises(BadResponse, match="no content"):
        openai_harness.model(structured="tool").request(make_request())


def test_json_object_mode_puts_the_schema_in_the_system_prompt(openai_harness: Harness) -> None:
    server = openai_harness.server
    server.queue(Reply({"title": "x"}))
    model = openai_harness.model(structured="json_object")
    model.request(make_request())
    sent = _sent(server)
    assert sent["response_format"] == {"type": "json_object"}
    system = sent["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("You are the analyst.")
    assert '"title"' in system["content"] and "JSON" in system["content"]
    assert len(sent["messages"]) == 2


def test_json_object_mode_adds_a_system_message_when_there_is_none(
    openai_harness: Harness,
) -> None:
    server = openai_harness.server
    server.queue(Reply({"title": "x"}))
    model = openai_harness.model(structured="json_object")
    model.request(make_request(messages=(Message(role="user", content="hi"),)))
    roles = [m["role"] for m in _sent(server)["messages"]]
    assert roles == ["system", "user"]


@pytest.mark.parametrize("structured", ["json_schema", "tool"])
def test_streaming_assembles_the_answer_and_the_usage(
    openai_harness: Harness, structured: str
) -> None:
    server = openai_harness.server
    output = {"title": "Streamed", "tags": ["a", "b", "c"]}
    server.queue(Reply(output, chunks=7, usage={"prompt_tokens": 50, "completion_tokens": 12}))
    model = openai_harness.model(stream=True, structured=structured)

    response = model.request(make_request())

    assert json.loads(response.content) == output
    assert response.usage == Usage(input_tokens=50, output_tokens=12)
    sent = _sent(server)
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


def test_max_completion_tokens_and_no_temperature_for_reasoning_models(
    openai_harness: Harness,
) -> None:
    server = openai_harness.server
    server.queue(Reply({"title": "x"}))
    model = openai_harness.model(max_tokens_param="max_completion_tokens", send_temperature=False)
    model.request(make_request(max_tokens=999))
    sent = _sent(server)
    assert sent["max_completion_tokens"] == 999
    assert "max_tokens" not in sent and "temperature" not in sent


def test_no_max_tokens_sent_when_the_request_has_none(openai_harness: Harness) -> None:
    server = openai_harness.server
    server.queue(Reply({"title": "x"}))
    openai_harness.model().request(make_request(max_tokens=None))
    assert "max_tokens" not in _sent(server)


def test_code_fenced_json_is_unwrapped(openai_harness: Harness) -> None:
    openai_harness.server.queue(Reply('```json\n{"title": "fenced"}\n```'))
    response = openai_harness.model().request(make_request())
    assert response.content == '{"title":"fenced"}'


def test_complete_but_invalid_json_is_returned_for_repair(openai_harness: Harness) -> None:
    # Not a transport failure: the agent layer validates and asks the model to repair.
    openai_harness.server.queue(Reply("Sure! Here is your spec: title=Todo"))
    response = openai_harness.model().request(make_request())
    assert response.content == "Sure! Here is your spec: title=Todo"


def test_valid_json_at_the_length_limit_is_accepted(openai_harness: Harness) -> None:
    openai_harness.server.queue(Reply({"title": "just fits"}, finish_reason="length"))
    response = openai_harness.model().request(make_request())
    assert json.loads(response.content) == {"title": "just fits"}


@pytest.mark.parametrize("stream", [False, True])
def test_content_filter_is_bad_response(openai_harness: Harness, stream: bool) -> None:
    openai_harness.server.queue(Reply({"title": "x"}, finish_reason="content_filter"))
    with pytest.raises(BadResponse, match="content filter"):
        openai_harness.model(stream=stream).request(make_request())


def test_model_satisfies_the_protocol(openai_harness: Harness) -> None:
    assert isinstance(openai_harness.model(), Model)


def test_a_minimal_compatible_server_answer(openai_harness: Harness) -> None:
    # llama.cpp / older Ollama: no usage, no refusal, no logprobs, no id
    body = {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": '{"title": "x"}'},
                "finish_reason": "stop",
            }
        ]
    }
    openai_harness.server.queue(
        Raw(200, json.dumps(body).encode(), {"content-type": "application/json"})
    )
    response = openai_harness.model().request(make_request())
    assert response.content == '{"title":"x"}'
    assert response.usage == Usage()
