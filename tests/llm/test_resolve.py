"""Model ids to models: replay cassettes, the schema-filling test model, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vitco.config import Settings
from vitco.llm.cassette import ReplayModel
from vitco.llm.exceptions import CassetteError, NoModelConfigured, UnknownModel
from vitco.llm.resolve import resolve_model
from vitco.llm.testing import TestModel


@pytest.mark.parametrize("model_id", [None, ""])
def test_no_model_says_how_to_configure_one(model_id: str | None, settings: Settings) -> None:
    with pytest.raises(NoModelConfigured) as info:
        resolve_model(model_id, settings)
    message = str(info.value)
    for hint in ("--model", "VITCO_MODEL", "replay:", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        assert hint in message


@pytest.mark.parametrize("model_id", ["replay:", "replay+strict:"])
def test_replay_without_a_path_is_an_unknown_model(model_id: str, settings: Settings) -> None:
    with pytest.raises(UnknownModel) as info:
        resolve_model(model_id, settings)
    assert info.value.model_id == model_id
    assert "replay:PATH.jsonl" in info.value.reason


@pytest.mark.parametrize(("prefix", "strict"), [("replay", False), ("replay+strict", True)])
def test_replay_ids_load_the_cassette(
    tmp_path: Path, prefix: str, strict: bool, settings: Settings
) -> None:
    cassette = tmp_path / "c.jsonl"
    entry = {"key": {"role": "analyst", "step": "analyze"}, "response": {"content": "{}"}}
    cassette.write_text(json.dumps(entry) + "\n", encoding="utf-8")

    model = resolve_model(f"{prefix}:{cassette}", settings)

    assert isinstance(model, ReplayModel)
    assert (model.path, model.strict) == (cassette, strict)


def test_a_replay_of_a_missing_file_fails_at_resolve(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(CassetteError):
        resolve_model(f"replay:{tmp_path / 'missing.jsonl'}", settings)


def test_test_is_the_schema_filling_model(settings: Settings) -> None:
    assert isinstance(resolve_model("test", settings), TestModel)


@pytest.mark.parametrize("model_id", ["nope:model", "gpt-4o", "test:x"])
def test_an_unknown_provider_is_an_unknown_model(model_id: str, settings: Settings) -> None:
    with pytest.raises(UnknownModel) as info:
        resolve_model(model_id, settings)
    assert info.value.model_id == model_id
