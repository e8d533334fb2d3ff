"""The fake servers' own contract, which later tests (router chaos, demo) rely on."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.fakes import FakeOpenAI, Hang, RateLimit, Reply
from tests.llm.providers.conftest import make_request
from vitco.llm.exceptions import ProviderError, RateLimited
from vitco.llm.providers.openai import OpenAIModel, openai_client


def test_queue_first_then_responder_and_every_request_recorded() -> None:
    seen: list[dict[str, Any]] = []

    def responder(body: dict[str, Any]) -> Any:
        seen.append(body)
        return {"title": f"answer {len(seen)}"}

    with FakeOpenAI(responder=responder) as server:
        server.queue(RateLimit(retry_after="1"))
        client = openai_client(base_url=server.base_url, timeout=5)
        model = OpenAIModel(client, "m")
        try:
            with pytest.raises(RateLimited):
                model.request(make_request())
            assert server.pending == 0
            first = model.request(make_request())
            second = model.request(make_request())
        finally:
            client.close()
    assert [json.loads(r.content)["title"] for r in (first, second)] == ["answer 1", "answer 2"]
    assert len(server.requests) == 3 and len(seen) == 2
    assert seen[0]["model"] == "m"


def test_responder_may_return_a_behaviour() -> None:
    with FakeOpenAI(responder=lambda body: Reply({"n": len(body["messages"])})) as server:
        client = openai_client(base_url=server.base_url, timeout=5)
        try:
            response = OpenAIModel(client, "m").request(make_request())
        finally:
            client.close()
    assert json.loads(response.content) == {"n": 2}


def test_an_unscripted_request_is_an_error_and_recorded_as_a_problem() -> None:
    with FakeOpenAI() as server:
        client = openai_client(base_url=server.base_url, timeout=5)
        try:
            with pytest.raises(ProviderError, match="no behaviour scripted"):
                OpenAIModel(client, "m").request(make_request())
        finally:
            client.close()
    assert server.problems and "request #1" in server.problems[0]


def test_close_ends_a_hanging_handler_promptly() -> None:
    server = FakeOpenAI().start()
    server.queue(Hang(seconds=60))
    client = openai_client(base_url=server.base_url, timeout=0.2)
    try:
        with pytest.raises(ProviderError):
            OpenAIModel(client, "m").request(make_request())
    finally:
        client.close()
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 2.0
