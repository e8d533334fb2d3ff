"""A server that refuses a structured-output mode (llama.cpp's, like the fake here: HTTP 500
"response_format.type: Input should be 'text' or 'json_object'") is detected, the next mode is
tried, and the mode that works is remembered per provider in the store, so the next router
starts with it; an answer cut at the token limit is asked again with a higher one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import Fail, FakeOpenAI, Reply
from tests.llm.providers.conftest import Spec, make_request
from vitco.config import Settings
from vitco.llm.config import load_model_config
from vitco.llm.exceptions import AnswerTruncated, StructuredModeRefused
from vitco.llm.meter import Attempt, Meter
from vitco.llm.modes import StoreModes
from vitco.llm.providers.openai import OpenAIModel, openai_client
from vitco.llm.resolve import build_router
from vitco.store.db import open_engine

LLAMA_CPP = {"text", "json_object"}  # the response_format types llama-cpp-python's server takes


@pytest.fixture
def llama_like() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(response_formats=LLAMA_CPP, responder=lambda _: Reply({"title": "Todo"})) as s:
        yield s
    assert not s.errors, s.errors


def _model(server: FakeOpenAI, **options: object) -> OpenAIModel:
    client = openai_client(base_url=server.base_url, timeout=10.0)
    return OpenAIModel(client, "local", provider="box", **options)  # type: ignore[arg-type]


def test_a_refused_json_schema_moves_the_adapter_to_the_next_mode(llama_like: FakeOpenAI) -> None:
    model = _model(llama_like)
    with pytest.raises(StructuredModeRefused) as info:
        model.request(make_request())
    refusal = info.value
    assert (refusal.mode, refusal.fallback, refusal.status) == ("json_schema", "tool", 500)
    assert "Input should be 'json_object' or 'text'" in str(refusal)
    assert model.structured == "tool"

    response = model.request(make_request())  # the same request, now as a forced tool call
    assert Spec.model_validate_json(response.content).title == "Todo"
    assert llama_like.last.json["tool_choice"]["function"]["name"] == "Spec"


def test_without_tools_it_falls_through_to_json_mode_then_to_the_prompt() -> None:
    with FakeOpenAI(
        response_formats=LLAMA_CPP, tools=False, responder=lambda _: Reply({"title": "T"})
    ) as server:
        model = _model(server)
        for refused in ("json_schema", "tool"):
            with pytest.raises(StructuredModeRefused) as info:
                model.request(make_request())
            assert info.value.mode == refused
        model.request(make_request())
        sent = server.last.json
        assert sent["response_format"] == {"type": "json_object"}
        assert "validates against this JSON schema" in sent["messages"][0]["content"]

    with FakeOpenAI(
        response_formats=set(), tools=False, responder=lambda _: Reply({"title": "T"})
    ) as bare:
        model = _model(bare, structured="json_object")
        with pytest.raises(StructuredModeRefused) as info:
            model.request(make_request())
        assert info.value.fallback == "prompt"
        model.request(make_request())
        assert "response_format" not in bare.last.json and "tools" not in bare.last.json


def test_other_errors_are_not_taken_for_a_refused_mode() -> None:
    with FakeOpenAI(responder=lambda _: Reply({"title": "T"})) as server:
        server.queue(Fail(500, "The server had an error while processing your request."))
        model = _model(server)
        with pytest.raises(Exception) as info:
            model.request(make_request())
        assert not isinstance(info.value, StructuredModeRefused)
        assert model.structured == "json_schema"


def _settings(tmp_path: Path, base_url: str) -> Settings:
    config = tmp_path / "vitco.toml"
    config.write_text(
        f'[providers.box]\nkind = "openai-compat"\nbase_url = "{base_url}"\n'
        '[tiers]\nstandard = ["box:local"]\n',
        encoding="utf-8",
    )
    return Settings(home=tmp_path / "home", config_file=config)


def test_the_router_falls_back_remembers_the_mode_and_the_next_router_starts_with_it(
    llama_like: FakeOpenAI, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, llama_like.base_url)
    attempts: list[Attempt] = []
    router = build_router(load_model_config(settings), settings).metered(Meter(attempts.append))
    response = router.request(make_request())
    assert Spec.model_validate_json(response.content).title == "Todo"
    assert [a.outcome for a in attempts] == ["mode_refused", "ok"]
    remembered = StoreModes(open_engine(settings.resolved_database_url))
    assert remembered.get("box") == "tool"  # in the store: the next run starts with it

    sent = len(llama_like.requests)
    again = build_router(load_model_config(settings), settings)
    again.request(make_request(max_tokens=300))
    assert len(llama_like.requests) == sent + 1  # no refusal paid for again
    assert "tools" in llama_like.last.json


def test_an_answer_cut_at_the_limit_is_asked_again_with_a_higher_one(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        server.queue(Reply('{"title": "a long tit', finish_reason="length"))
        model = _model(server)
        with pytest.raises(AnswerTruncated) as info:
            model.request(make_request(max_tokens=256))
        assert info.value.limit == 256 and info.value.usage is not None
        assert info.value.usage.output_tokens > 0  # billed: the ledger records it

        server.queue(
            Reply('{"title": "a long tit', finish_reason="length"),
            Reply({"title": "a long title"}),
        )
        settings = _settings(tmp_path, server.base_url)
        attempts: list[Attempt] = []
        router = build_router(load_model_config(settings), settings).metered(Meter(attempts.append))
        router.request(make_request(max_tokens=256))
        assert [r.json["max_tokens"] for r in server.requests[-2:]] == [256, 4096]
        assert [(a.outcome, a.max_tokens) for a in attempts] == [("truncated", 256), ("ok", 4096)]
        assert attempts[0].usage.output_tokens > 0
