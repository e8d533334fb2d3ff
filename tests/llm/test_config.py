"""Model configuration: defaults from the environment, vitco.toml, and clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vitco.config import Settings
from vitco.llm.config import config_path, load_model_config
from vitco.llm.exceptions import ModelConfigError, NoModelConfigured, UnknownModel
from vitco.llm.resolve import ROUTER_ID, resolve_model
from vitco.llm.router import Router


def settings_for(tmp_path: Path, **values: Any) -> Settings:
    """Settings with no provider key unless given (the developer's environment is ignored)."""
    base: dict[str, Any] = {
        "home": tmp_path / "home",
        "openai_api_key": None,
        "anthropic_api_key": None,
        "openrouter_api_key": None,
        "groq_api_key": None,
        "ollama_host": None,
        "config_file": None,
    }
    return Settings(**(base | values))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vitco.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_nothing_configured_is_empty_and_resolving_says_how_to_configure(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    config = load_model_config(settings)
    assert config.empty and config.source is None
    with pytest.raises(NoModelConfigured) as info:
        resolve_model(None, settings)
    assert "vitco.toml" in str(info.value) and "OPENAI_API_KEY" in str(info.value)


def test_one_key_gives_three_tiers_of_that_provider(tmp_path: Path) -> None:
    config = load_model_config(settings_for(tmp_path, openai_api_key="sk-o"))
    assert dict(config.chains) == {
        "efficient": ("openai:gpt-4.1-nano",),
        "standard": ("openai:gpt-4.1-mini",),
        "premium": ("openai:gpt-4.1",),
    }
    assert config.secrets() == ["sk-o"]


def test_several_providers_make_fallback_chains_with_local_models_last(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path,
        openai_api_key="sk-o",
        anthropic_api_key="sk-a",
        ollama_host="0.0.0.0:11434",
        openai_base_url="http://proxy.local/v1",
    )
    config = load_model_config(settings)
    assert config.chains["premium"] == ("openai:gpt-4.1", "anthropic:claude-opus-5-5")
    assert config.chains["efficient"] == (
        "openai:gpt-4.1-nano",
        "anthropic:claude-haiku-5-5",
        "ollama:llama3.2",
    )
    assert config.providers["openai"].base_url == "http://proxy.local/v1"
    assert sorted(config.secrets()) == ["sk-a", "sk-o"]


def test_ollama_alone_serves_every_tier(tmp_path: Path) -> None:
    config = load_model_config(settings_for(tmp_path, ollama_host="box:11434"))
    assert set(config.chains.values()) == {("ollama:llama3.2",)}
    router = resolve_model(None, settings_for(tmp_path, ollama_host="box:11434"))
    assert isinstance(router, Router) and router.id == ROUTER_ID


FULL = """
[providers.box]
kind = "vllm"
base_url = "http://gpu-box:8000/v1"
api_key_env = "BOX_KEY"
timeout = 12.5

[tiers]
premium = ["anthropic:claude-opus-5-5"]
efficient = ["box:qwen2.5-coder", "openai:gpt-4.1-nano"]

[prices]
"box:qwen2.5-coder" = { input = 0.2, output = 0.6 }
"openai:gpt-4.1-nano" = [0.1, 0.4, 0.025]

[roles]
reviewer = "efficient"
developer = { min_tier = "standard" }

[routing]
premium_at = 9
standard_at = 4

[retry]
attempts = 5
base_delay_s = 0.1

[breaker]
failures = 2
cooldown_s = 5
"""


def test_a_full_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOX_KEY", "box-secret")
    path = write(tmp_path, FULL)
    settings = settings_for(tmp_path, anthropic_api_key="sk-a", config_file=path)
    config = load_model_config(settings)

    assert config.source == path
    assert config.chains["premium"] == ("anthropic:claude-opus-5-5",)
    assert config.chains["standard"] == ("anthropic:claude-opus-5-5",)  # borrowed from above
    assert config.borrowed == {"standard": "premium"}
    box = config.providers["box"]
    assert (box.kind, box.base_url, box.api_key, box.timeout) == (
        "vllm",
        "http://gpu-box:8000/v1",
        "box-secret",
        12.5,
    )
    assert "box-secret" not in repr(box)
    assert config.prices["box:qwen2.5-coder"] == (0.2, 0.6, 0.2, 0.2)
    assert config.prices["openai:gpt-4.1-nano"] == (0.1, 0.4, 0.025, 0.1)
    assert config.policy.tier_for("reviewer", 10) == "efficient"
    assert config.policy.tier_for("developer", 1) == "standard"
    assert config.policy.tier_for("analyst", 9) == "premium"
    assert config.policy.tier_for("analyst", 8) == "standard"
    assert (config.retry.attempts, config.retry.base_delay_s) == (5, 0.1)
    assert (config.breaker.failures, config.breaker.cooldown_s) == (2, 5.0)
    assert sorted(config.secrets()) == ["box-secret", "sk-a"]


def test_the_router_from_a_file_routes_by_configured_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOX_KEY", "box-secret")
    settings = settings_for(
        tmp_path, anthropic_api_key="sk-a", openai_api_key="sk-o", config_file=write(tmp_path, FULL)
    )
    router = resolve_model(None, settings)
    assert isinstance(router, Router)
    efficient = router.chains["efficient"]
    assert [r.id for r in efficient] == ["box:qwen2.5-coder", "openai:gpt-4.1-nano"]
    assert [r.provider for r in efficient] == ["box", "openai"]
    assert efficient[0].model.id == "vllm:qwen2.5-coder"  # built by the vllm adapter
    router.close()


def test_a_single_model_id_is_routed_alone(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, openai_api_key="sk-o")
    model = resolve_model("openai:gpt-4.1-mini", settings)
    assert isinstance(model, Router) and model.id == "openai:gpt-4.1-mini"
    assert {tuple(r.id for r in chain) for chain in model.chains.values()} == {
        ("openai:gpt-4.1-mini",)
    }
    model.close()


def test_a_single_model_without_its_key_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(UnknownModel) as info:
        resolve_model("anthropic:claude-haiku-5-5", settings_for(tmp_path))
    assert "ANTHROPIC_API_KEY" in str(info.value)


def test_a_configured_provider_without_its_key_names_its_variable(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[providers.work]\nkind = "openai"\napi_key_env = "WORK_OPENAI_KEY"\n'
        '[tiers]\nstandard = ["work:gpt-4.1"]\n',
    )
    with pytest.raises(UnknownModel) as info:
        resolve_model(None, settings_for(tmp_path, config_file=path))
    assert "WORK_OPENAI_KEY" in str(info.value)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[tiers\n", "", "not valid TOML"),
        ("[tiers]\npremium = ['openai:gpt-4.1']\nfancy = ['openai:x']\n", "tiers.fancy",
         "premium, standard and efficient"),
        ("[tiers]\npremium = ['gpt-4.1']\n", "tiers.premium[0]", "'provider:model'"),
        ("[tiers]\npremium = ['nope:model']\n", "tiers.premium[0]", "unknown provider 'nope'"),
        ("[retry]\natempts = 3\n", "retry.atempts", "unknown key"),
        ("[retry]\nattempts = 0\n", "retry.attempts", "greater than or equal to 1"),
        ("[routing]\npremium_at = 4\nstandard_at = 6\n", "routing", "standard_at"),
        ("[providers.x]\nkind = 'martian'\n", "providers.x.kind", "unknown provider kind"),
        ("[roles]\nqa = 'super'\n", "roles.qa.tier", "premium"),
        ("[prices]\n'a:b' = { input = -1, output = 1 }\n", "prices.a:b.input", "greater"),
    ],
)  # fmt: skip
def test_a_bad_file_names_the_file_the_key_and_the_problem(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ModelConfigError) as info:
        load_model_config(settings_for(tmp_path, openai_api_key="sk-o", config_file=path))
    error = info.value
    assert error.path == str(path)
    assert error.key == key
    assert problem in error.problem
    assert str(path) in str(error)


def test_a_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, config_file=tmp_path / "nope.toml")
    with pytest.raises(ModelConfigError, match="cannot read it"):
        load_model_config(settings)


def test_where_the_file_is_looked_for_never_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    (work / "vitco.toml").write_text("[tiers\n", encoding="utf-8")  # would fail if read
    monkeypatch.chdir(work)
    settings.home.mkdir()
    assert config_path(settings) is None
    assert load_model_config(settings).source is None
    (settings.home / "vitco.toml").write_text("", encoding="utf-8")
    assert config_path(settings) == settings.home / "vitco.toml"
    explicit = tmp_path / "elsewhere.toml"
    assert config_path(settings_for(tmp_path, config_file=explicit)) == explicit


def test_a_file_without_tiers_keeps_the_environment_chains(tmp_path: Path) -> None:
    path = write(tmp_path, "[prices]\n'openai:gpt-4.1' = [1.0, 2.0]\n")
    config = load_model_config(settings_for(tmp_path, openai_api_key="sk-o", config_file=path))
    assert config.chains["premium"] == ("openai:gpt-4.1",)
    assert config.prices["openai:gpt-4.1"] == (1.0, 2.0, 1.0, 1.0)


def test_the_environment_is_read_by_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk-1")
    monkeypatch.setenv("OPENROUTER_API_KEY", "or-1")
    monkeypatch.setenv("VITCO_CACHE_TTL_S", "60")
    monkeypatch.setenv("VITCO_CONFIG_FILE", "/etc/vitco.toml")
    settings = Settings()
    assert settings.groq_api_key is not None and settings.groq_api_key.get_secret_value() == "gsk-1"
    assert settings.openrouter_api_key is not None
    assert settings.cache_ttl_s == 60 and settings.config_file == Path("/etc/vitco.toml")
    assert settings.env_secret("GROQ_API_KEY") == "gsk-1"
    assert settings.env_secret("VITCO_SURELY_UNSET_VAR") is None
