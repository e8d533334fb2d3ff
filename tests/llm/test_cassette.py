"""Cassettes: replay by call key, strict mode, malformed files, and the recorder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vitco.llm.cassette import CassetteRecorder, ReplayModel, read_cassette
from vitco.llm.exceptions import CassetteError, ReplayMiss
from vitco.llm.model import CallKey, Message, ModelRequest
from vitco.llm.testing import FunctionModel
from vitco.observability.redaction import REDACTED

DEV_T1 = CallKey(role="developer", step="implement", task="T1")
ANALYST = CallKey(role="analyst", step="analyze")


def _request(key: CallKey, text: str = "Build a todo API.") -> ModelRequest:
    return ModelRequest(
        key=key,
        messages=(Message(role="system", content="You are..."), Message(role="user", content=text)),
        output_name="Spec",
        output_schema={"type": "object"},
    )


def _entry(key: CallKey, content: str, fingerprint: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "key": key.model_dump(),
        "response": {"content": content, "usage": {"input_tokens": 3}, "model": "openai:gpt-x"},
    }
    if fingerprint is not None:
        entry["fingerprint"] = fingerprint
    return entry


def _write(path: Path, *lines: dict[str, Any] | str) -> Path:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


# replay ---------------------------------------------------------------------------------------


def test_replay_answers_by_key_even_for_a_reworded_prompt(tmp_path: Path) -> None:
    recorded = _request(ANALYST, "Build a todo API.")
    cassette = _write(
        tmp_path / "c.jsonl",
        {"vitco_cassette": 1, "note": "hand-written"},
        _entry(ANALYST, '{"title": "Todo"}', recorded.fingerprint()),
        "",
        _entry(DEV_T1, '{"files": []}'),
    )
    model = ReplayModel(cassette)

    response = model.request(_request(ANALYST, "Please build a todo API, thanks."))

    assert response.content == '{"title": "Todo"}'
    assert response.model == "replay/openai:gpt-x"
    assert response.usage.input_tokens == 3
    assert model.header == {"vitco_cassette": 1, "note": "hand-written"}
    assert model.id == f"replay:{cassette}"
    assert model.request(_request(DEV_T1)).content == '{"files": []}'


def test_a_miss_names_the_call_and_the_file(tmp_path: Path) -> None:
    cassette = _write(tmp_path / "c.jsonl", _entry(ANALYST, "{}"))
    model = ReplayModel(cassette)
    attempt2 = DEV_T1.model_copy(update={"attempt": 2})

    with pytest.raises(ReplayMiss) as info:
        model.request(_request(attempt2))

    assert info.value.key == "developer/implement/T1#2"
    assert info.value.path == str(cassette)
    assert "developer/implement/T1#2" in str(info.value)
    assert str(cassette) in str(info.value)


def test_a_repair_call_is_a_different_key(tmp_path: Path) -> None:
    model = ReplayModel(_write(tmp_path / "c.jsonl", _entry(DEV_T1, "{}")))
    with pytest.raises(ReplayMiss) as info:
        model.request(_request(DEV_T1.model_copy(update={"repair": 1})))
    assert info.value.key == "developer/implement/T1#1+repair1"


def test_strict_mode_rejects_a_changed_request(tmp_path: Path) -> None:
    recorded = _request(ANALYST, "Build a todo API.")
    cassette = _write(tmp_path / "c.jsonl", _entry(ANALYST, "{}", recorded.fingerprint()))

    assert ReplayModel(cassette, strict=True).request(recorded).content == "{}"
    with pytest.raises(ReplayMiss) as info:
        ReplayModel(cassette, strict=True).request(_request(ANALYST, "Build a todo app."))
    assert "strict" in info.value.reason
    assert info.value.key == "analyst/analyze#1"


def test_strict_mode_rejects_an_entry_without_fingerprint(tmp_path: Path) -> None:
    model = ReplayModel(_write(tmp_path / "c.jsonl", _entry(ANALYST, "{}")), strict=True)
    with pytest.raises(ReplayMiss):
        model.request(_request(ANALYST))


def test_repeated_keys_are_answered_in_order(tmp_path: Path) -> None:
    cassette = _write(
        tmp_path / "c.jsonl",
        _entry(DEV_T1, '"first"'),
        _entry(ANALYST, '"analyst"'),
        _entry(DEV_T1, '"second"'),
    )
    model = ReplayModel(cassette)

    answers = [model.request(_request(DEV_T1)).content for _ in range(2)]

    assert answers == ['"first"', '"second"']


# malformed cassettes --------------------------------------------------------------------------


def test_a_line_that_is_not_json_is_named(tmp_path: Path) -> None:
    cassette = _write(tmp_path / "c.jsonl", _entry(ANALYST, "{}"), "{not json")
    with pytest.raises(CassetteError) as info:
        ReplayModel(cassette)
    assert info.value.path == str(cassette)
    assert "line 2 is not JSON" in info.value.reason


def test_a_line_missing_a_field_is_named(tmp_path: Path) -> None:
    broken = _entry(DEV_T1, "{}")
    del broken["response"]["content"]
    cassette = _write(tmp_path / "c.jsonl", {"vitco_cassette": 1}, _entry(ANALYST, "{}"), broken)
    with pytest.raises(CassetteError) as info:
        read_cassette(cassette)
    assert info.value.reason == "line 3: response.content: Field required"


def test_a_line_with_a_wrong_shape_is_named(tmp_path: Path) -> None:
    cassette = _write(tmp_path / "c.jsonl", "[1, 2]")
    with pytest.raises(CassetteError) as info:
        read_cassette(cassette)
    assert info.value.reason.startswith("line 1")


@pytest.mark.parametrize("text", ["", "\n\n", '{"vitco_cassette": 1}\n'])
def test_a_cassette_without_calls_is_an_error(tmp_path: Path, text: str) -> None:
    cassette = tmp_path / "c.jsonl"
    cassette.write_text(text, encoding="utf-8")
    with pytest.raises(CassetteError) as info:
        ReplayModel(cassette)
    assert info.value.reason == "has no recorded calls"


def test_a_missing_cassette_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CassetteError) as info:
        ReplayModel(tmp_path / "nope.jsonl")
    assert info.value.path == str(tmp_path / "nope.jsonl")
    assert "cannot read it" in info.value.reason


# recording ------------------------------------------------------------------------------------


def test_a_recording_replays_strictly(tmp_path: Path) -> None:
    answers = {"analyst/analyze#1": '{"title": "Todo"}', "developer/implement/T1#1": '{"f": 1}'}
    inner = FunctionModel(lambda r: answers[r.key.label()], model_id="live")
    cassette = tmp_path / "rec" / "run.jsonl"
    recorder = CassetteRecorder(inner, cassette)
    requests = [_request(ANALYST), _request(DEV_T1, "Implement T1.")]

    live = [recorder.request(r).content for r in requests]

    header, entries = read_cassette(cassette)
    assert header == {"vitco_cassette": 1, "recorded_with": "test:live"}
    assert [e.key for e in entries] == [ANALYST, DEV_T1]
    replay = ReplayModel(cassette, strict=True)
    assert [replay.request(r).content for r in requests] == live
    assert recorder.id == "test:live"


def test_recording_appends_to_an_existing_cassette(tmp_path: Path) -> None:
    cassette = tmp_path / "run.jsonl"
    CassetteRecorder(FunctionModel(lambda _: '"one"'), cassette).request(_request(ANALYST))
    CassetteRecorder(FunctionModel(lambda _: '"two"'), cassette).request(_request(ANALYST))

    lines = cassette.read_text(encoding="utf-8").splitlines()
    assert sum("vitco_cassette" in line for line in lines) == 1
    model = ReplayModel(cassette)
    assert [model.request(_request(ANALYST)).content for _ in range(2)] == ['"one"', '"two"']


def test_the_recorder_never_writes_a_secret(tmp_path: Path) -> None:
    secret = "sk-test-0123456789abcdefSECRET"
    leaky = json.dumps({"summary": f"use the key {secret} to call", "token": secret})
    inner = FunctionModel(lambda _: leaky, model_id=f"proxy-{secret}")
    cassette = tmp_path / "run.jsonl"
    recorder = CassetteRecorder(inner, cassette, secrets=[secret, ""])

    returned = recorder.request(_request(ANALYST, f"the prompt mentions {secret}"))

    assert returned.content == leaky  # the caller still gets the real answer
    written = cassette.read_text(encoding="utf-8")
    assert secret not in written
    assert REDACTED in written
    replayed = ReplayModel(cassette).request(_request(ANALYST)).content
    assert json.loads(replayed)["token"] == REDACTED


@pytest.mark.parametrize("secret", ['pa"ss\\word-0123', "clé-sécrète-0123", "plain-token-0123"])
def test_the_recorder_scrubs_secrets_that_json_escapes(tmp_path: Path, secret: str) -> None:
    inner = FunctionModel(lambda _: f"raw text with {secret} inside")
    cassette = tmp_path / "run.jsonl"
    recorder = CassetteRecorder(inner, cassette, secrets=[secret])

    recorder.request(_request(ANALYST))

    written = cassette.read_text(encoding="utf-8")
    assert secret not in written
    assert json.dumps(secret)[1:-1] not in written
    replayed = ReplayModel(cassette).request(_request(ANALYST)).content
    assert replayed == f"raw text with {REDACTED} inside"


def test_a_replay_with_a_latency_answers_after_it_and_resolves_from_settings(
    tmp_path: Path,
) -> None:
    from vitco.config import Settings
    from vitco.llm.resolve import resolve_model

    cassette = _write(tmp_path / "c.jsonl", _entry(DEV_T1, '{"files": []}'))
    slept: list[float] = []
    model = ReplayModel(cassette, latency_s=0.75, sleep=slept.append)
    assert model.request(_request(DEV_T1)).content == '{"files": []}'
    assert slept == [0.75]
    assert ReplayModel(cassette, sleep=slept.append).request(_request(DEV_T1))
    assert slept == [0.75]  # none by default
    resolved = resolve_model(f"replay:{cassette}", Settings(replay_latency_s=2.5))
    assert isinstance(resolved, ReplayModel) and resolved.latency_s == 2.5
    with pytest.raises(ValueError):
        Settings(replay_latency_s=-1)
