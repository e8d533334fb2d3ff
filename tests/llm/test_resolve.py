"""Model ids to models: replay cassettes, the schema-filling test model, clear errors; where a
router keeps its cache and breakers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vitco.config import Settings
from vitco.llm.breaker import RedisBreakerStore, StoreBreakerStore
from vitco.llm.cache import RedisResponseCache, StoreResponseCache
from vitco.llm.cassette import ReplayModel
from vitco.llm.exceptions import CassetteError, NoModelConfigured, UnknownModel
from vitco.llm.resolve import resolve_model
from vitco.llm.router import Router
from vitco.llm.testing import TestModel
from vitco.store import SchemaOutdated
from vitco.store.db import open_engine


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


# where a router keeps its state --------------------------------------------------------------


def _ollama(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **values: Any) -> Settings:
    """Settings with one keyless provider (its model is built, never called)."""
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    return Settings(home=tmp_path / "home", **values)


def test_a_router_keeps_its_cache_and_breakers_in_the_stores_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    settings = _ollama(tmp_path, monkeypatch, database_url=database_url)
    router = resolve_model("ollama:llama3", settings)
    assert isinstance(router, Router)
    engine = open_engine(database_url)
    assert isinstance(router.cache, StoreResponseCache) and router.cache.engine is engine
    store = router.breakers.store
    assert isinstance(store, StoreBreakerStore) and store.engine is engine
    for _ in range(router.breakers.policy.failures):
        router.breakers.get("ollama").failure("connection refused")

    again = resolve_model("ollama:llama3", settings)  # a later run (or another process)
    assert isinstance(again, Router)
    assert again.breakers.status("ollama").state == "open"
    assert not (settings.home / "llm-state.sqlite").exists()


def test_a_router_does_not_migrate_the_store_when_automatic_migration_is_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SchemaOutdated):
        resolve_model("ollama:llama3", _ollama(tmp_path, monkeypatch, auto_migrate=False))


def test_with_redis_a_router_keeps_its_state_there_and_never_opens_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _ollama(tmp_path, monkeypatch, redis_url="redis://127.0.0.1:6379/0")
    router = resolve_model("ollama:llama3", settings)
    assert isinstance(router, Router)
    assert isinstance(router.cache, RedisResponseCache)
    assert isinstance(router.breakers.store, RedisBreakerStore)
    assert not (settings.home / "vitco.sqlite").exists()
