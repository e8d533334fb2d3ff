"""Model configuration: defaults from the environment, vitco.toml, and clear errors.

Provider variables are set in the environment (the conftest has unset every one the registry
names): ``Settings`` reads them there, as it does for a user.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vitco.config import Settings
from vitco.llm.config import config_path, load_model_config
from vitco.llm.exceptions import ModelConfigError, NoModelConfigured, UnknownModel
from vitco.llm.providers import PROVIDERS, ProviderSpec, env_names
from vitco.llm.resolve import ROUTER_ID, resolve_model
from vitco.llm.router import Router

SetEnv = Callable[..., None]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> SetEnv:
    """``env(OPENAI_API_KEY="sk-o")`` sets variables for this test."""

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


def settings_for(tmp_path: Path, **values: Any) -> Settings:
    """Settings with a private data dir and no configuration file unless given."""
    return Settings(**({"home": tmp_path / "home", "config_file": None} | values))


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


def test_one_key_gives_three_tiers_of_that_provider(tmp_path: Path, env: SetEnv) -> None:
    env(OPENAI_API_KEY="sk-o")
    config = load_model_config(settings_for(tmp_path))
    assert dict(config.chains) == {
        "efficient": ("openai:gpt-4.1-nano",),
        "standard": ("openai:gpt-4.1-mini",),
        "premium": ("openai:gpt-4.1",),
    }
    assert config.secrets() == ["sk-o"]


def test_several_providers_make_fallback_chains_with_local_models_last(
    tmp_path: Path, env: SetEnv
) -> None:
    env(
        OPENAI_API_KEY="sk-o",
        ANTHROPIC_API_KEY="sk-a",
        OLLAMA_HOST="0.0.0.0:11434",
        OPENAI_BASE_URL="http://proxy.local/v1",
    )
    config = load_model_config(settings_for(tmp_path))
    assert config.chains["premium"] == ("openai:gpt-4.1", "anthropic:claude-opus-5-5")
    assert config.chains["efficient"] == (
        "openai:gpt-4.1-nano",
        "anthropic:claude-haiku-5-5",
        "ollama:llama3.2",
    )
    assert config.providers["openai"].base_url == "http://proxy.local/v1"
    assert sorted(config.secrets()) == ["sk-a", "sk-o"]


def test_ollama_alone_serves_every_tier(tmp_path: Path, env: SetEnv) -> None:
    env(OLLAMA_HOST="box:11434")
    config = load_model_config(settings_for(tmp_path))
    assert set(config.chains.values()) == {("ollama:llama3.2",)}
    assert config.providers["ollama"].base_url == "box:11434"
    router = resolve_model(None, settings_for(tmp_path))
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


def test_a_full_file(tmp_path: Path, env: SetEnv) -> None:
    env(BOX_KEY="box-secret", ANTHROPIC_API_KEY="sk-a")
    path = write(tmp_path, FULL)
    settings = settings_for(tmp_path, config_file=path)
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


def test_the_router_from_a_file_routes_by_configured_names(tmp_path: Path, env: SetEnv) -> None:
    env(BOX_KEY="box-secret", ANTHROPIC_API_KEY="sk-a", OPENAI_API_KEY="sk-o")
    settings = settings_for(tmp_path, config_file=write(tmp_path, FULL))
    router = resolve_model(None, settings)
    assert isinstance(router, Router)
    efficient = router.chains["efficient"]
    assert [r.id for r in efficient] == ["box:qwen2.5-coder", "openai:gpt-4.1-nano"]
    assert [r.provider for r in efficient] == ["box", "openai"]
    assert efficient[0].model.id == "vllm:qwen2.5-coder"  # built by the vllm adapter
    router.close()


def test_a_single_model_id_is_routed_alone(tmp_path: Path, env: SetEnv) -> None:
    env(OPENAI_API_KEY="sk-o")
    settings = settings_for(tmp_path)
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
    tmp_path: Path, env: SetEnv, text: str, key: str, problem: str
) -> None:
    env(OPENAI_API_KEY="sk-o")
    path = write(tmp_path, text)
    with pytest.raises(ModelConfigError) as info:
        settings_for(tmp_path, config_file=path)  # the file is read when Settings is built
    error = info.value
    assert error.path == str(path)
    assert error.key == key
    assert problem in error.problem
    assert str(path) in str(error)


def test_a_missing_explicit_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ModelConfigError, match="cannot read it") as info:
        settings_for(tmp_path, config_file=missing)
    assert info.value.path == str(missing) and "no such file" in info.value.problem
    monkeypatch.setenv("VITCO_CONFIG_FILE", str(missing))
    with pytest.raises(ModelConfigError, match="no such file"):
        Settings(home=tmp_path / "home")
    with pytest.raises(ModelConfigError, match="not a file"):
        settings_for(tmp_path, config_file=tmp_path)


def test_where_the_file_is_looked_for_never_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "vitco.toml").write_text("[tiers\n", encoding="utf-8")  # would fail if read
    monkeypatch.chdir(work)
    settings = settings_for(tmp_path)
    assert config_path(settings) is None
    assert load_model_config(settings).source is None
    settings.home.mkdir()
    (settings.home / "vitco.toml").write_text("", encoding="utf-8")
    settings = settings_for(tmp_path)
    assert config_path(settings) == settings.home / "vitco.toml"
    assert load_model_config(settings).source == settings.home / "vitco.toml"
    explicit = tmp_path / "elsewhere.toml"
    explicit.write_text("", encoding="utf-8")
    assert config_path(settings_for(tmp_path, config_file=explicit)) == explicit


def test_a_file_without_tiers_keeps_the_environment_chains(tmp_path: Path, env: SetEnv) -> None:
    env(OPENAI_API_KEY="sk-o")
    path = write(tmp_path, "[prices]\n'openai:gpt-4.1' = [1.0, 2.0]\n")
    config = load_model_config(settings_for(tmp_path, config_file=path))
    assert config.chains["premium"] == ("openai:gpt-4.1",)
    assert config.prices["openai:gpt-4.1"] == (1.0, 2.0, 1.0, 1.0)


def test_the_environment_is_read_by_settings(tmp_path: Path, env: SetEnv) -> None:
    config = write(tmp_path, "[retry]\nattempts = 4\n")
    env(
        GROQ_API_KEY="gsk-1",
        VITCO_OPENROUTER_API_KEY="or-1",  # the VITCO_ form of a provider's variable
        VITCO_CACHE_TTL_S="60",
        VITCO_CONFIG_FILE=str(config),
    )
    settings = Settings()
    groq = settings.env_secret("GROQ_API_KEY")
    assert groq is not None and groq.get_secret_value() == "gsk-1" and "gsk-1" not in repr(groq)
    assert settings.env_value("OPENROUTER_API_KEY") == "or-1"
    assert settings.cache_ttl_s == 60 and settings.config_file == config
    assert settings.models.retry.attempts == 4
    assert settings.env_secret("SURELY_UNSET_VAR") is None
    env(OPENAI_API_KEY="plain", VITCO_OPENAI_API_KEY="vitco's", ANTHROPIC_API_KEY="")
    assert settings.env_value("OPENAI_API_KEY") == "vitco's"  # the VITCO_ form wins
    assert settings.env_value("ANTHROPIC_API_KEY") is None  # empty is unset
    config_of = load_model_config(settings)
    assert set(config_of.providers) == {"openai", "openrouter", "groq"}
    assert sorted(config_of.secrets()) == ["gsk-1", "or-1", "vitco's"]


# -- the models section of Settings: the one file the location rule picks -----------------------


def test_settings_load_the_models_section_from_the_named_file_never_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "vitco.toml").write_text("[retry]\nattempts = 9\n", encoding="utf-8")
    monkeypatch.chdir(work)
    named = write(tmp_path, "[tiers]\nstandard = ['openai:gpt-own']\n[retry]\nattempts = 2\n")

    settings = settings_for(tmp_path, config_file=named)
    assert settings.models.tiers == {"standard": ["openai:gpt-own"]}
    assert settings.models.retry.attempts == 2
    assert settings_for(tmp_path).models.retry.attempts == 3  # ./vitco.toml is not read

    home = tmp_path / "home"
    home.mkdir()
    (home / "vitco.toml").write_text("[breaker]\nfailures = 7\n", encoding="utf-8")
    from_home = settings_for(tmp_path)
    assert from_home.models.breaker.failures == 7 and from_home.models.retry.attempts == 3
    assert settings_for(tmp_path, config_file=named).models.breaker.failures == 5  # one file


def test_a_copy_that_names_another_file_reads_it(tmp_path: Path) -> None:
    first = tmp_path / "first.toml"
    first.write_text("[retry]\nattempts = 2\n", encoding="utf-8")
    second = tmp_path / "second.toml"
    second.write_text("[retry]\nattempts = 6\n", encoding="utf-8")
    settings = settings_for(tmp_path, config_file=first, max_parallel=7)
    moved = settings.model_copy(update={"config_file": second})
    assert moved.models.retry.attempts == 6 and moved.max_parallel == 7
    assert settings.model_copy(update={"max_parallel": 2}).models.retry.attempts == 2
    with pytest.raises(ModelConfigError, match="no such file"):
        settings.model_copy(update={"config_file": tmp_path / "gone.toml"})


def test_the_bad_data_dir_file_is_named_when_settings_are_built(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "vitco.toml").write_text("[tiers]\npremium = ['nope:x']\n", encoding="utf-8")
    with pytest.raises(ModelConfigError) as info:
        Settings(home=home)
    assert (info.value.path, info.value.key) == (str(home / "vitco.toml"), "tiers.premium[0]")


def test_a_provider_added_to_the_registry_needs_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: SetEnv
) -> None:
    """Its variables enable it, give its key and URL, and its chain joins the defaults."""
    newco = ProviderSpec(
        PROVIDERS["openai"].factory,
        "a provider added for this test",
        key_env="NEWCO_API_KEY",
        url_env="NEWCO_BASE_URL",
        default_base_url="http://127.0.0.1:9/v1",
        default_chain={"premium": "big", "standard": "mid", "efficient": "small"},
    )
    monkeypatch.setitem(PROVIDERS, "newco", newco)
    assert "NEWCO_API_KEY" in env_names()  # so the conftest would unset it
    env(OPENAI_API_KEY="sk-o", OLLAMA_HOST="127.0.0.1:9", VITCO_NEWCO_API_KEY="nk-1")
    config = load_model_config(settings_for(tmp_path))
    assert config.chains["premium"] == ("openai:gpt-4.1", "newco:big")
    assert config.chains["efficient"] == ("openai:gpt-4.1-nano", "newco:small", "ollama:llama3.2")
    setup = config.providers["newco"]
    assert (setup.api_key, setup.api_key_env, setup.needs_key) == ("nk-1", "NEWCO_API_KEY", True)
    env(NEWCO_BASE_URL="http://127.0.0.1:8/v1")
    assert load_model_config(settings_for(tmp_path)).providers["newco"].base_url == (
        "http://127.0.0.1:8/v1"
    )
