"""``provider:model`` ids resolve through one registry, lazily and with clear errors."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes import FakeAnthropic, FakeOpenAI, Reply
from tests.llm.providers.conftest import ANTHROPIC_KEY, OPENAI_KEY, make_request
from vitco.llm.exceptions import UnknownModel
from vitco.llm.providers import (
    PROVIDERS,
    env_names,
    ollama_base_url,
    resolve_model,
    split_model_id,
)
from vitco.llm.providers.anthropic import AnthropicModel
from vitco.llm.providers.openai import OpenAIModel, StructuredMode, openai_client

SRC = Path(__file__).resolve().parents[3] / "src" / "vitco"


def test_split_model_id_keeps_colons_in_the_model_name() -> None:
    assert split_model_id("ollama:llama3.2:3b") == ("ollama", "llama3.2:3b")
    assert split_model_id("OpenAI:gpt-4o") == ("openai", "gpt-4o")
    for bad in ("gpt-4o", "openai:", ":gpt-4o"):
        with pytest.raises(UnknownModel):
            split_model_id(bad)


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(UnknownModel) as caught:
        resolve_model("nosuch:model")
    assert "nosuch" in str(caught.value)
    for name in ("anthropic", "ollama", "openai"):
        assert name in str(caught.value)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (None, "http://127.0.0.1:11434/v1"),
        ("", "http://127.0.0.1:11434/v1"),
        ("0.0.0.0", "http://127.0.0.1:11434/v1"),
        ("0.0.0.0:8080", "http://127.0.0.1:8080/v1"),
        ("gpu-box", "http://gpu-box:11434/v1"),
        ("http://gpu-box:11434/", "http://gpu-box:11434/v1"),
        ("http://gpu-box:11434/v1", "http://gpu-box:11434/v1"),
        ("https://ollama.example.com", "https://ollama.example.com/v1"),
        ("https://example.com/ollama", "https://example.com/ollama/v1"),
    ],
)
def test_ollama_base_url(host: str | None, expected: str) -> None:
    assert ollama_base_url(host) == expected


@pytest.mark.parametrize("model_id", ["openai:gpt-4o", "openrouter:x/y", "groq:llama"])
def test_hosted_providers_need_a_key(model_id: str) -> None:
    with pytest.raises(UnknownModel, match="API key"):
        resolve_model(model_id)


def test_anthropic_needs_a_key() -> None:
    with pytest.raises(UnknownModel, match="ANTHROPIC_API_KEY"):
        resolve_model("anthropic:claude-fake-1")


@pytest.mark.parametrize("model_id", ["vllm:qwen", "openai-compat:phi"])
def test_generic_servers_need_a_base_url(model_id: str) -> None:
    with pytest.raises(UnknownModel, match="base URL"):
        resolve_model(model_id)


def test_ollama_through_the_registry_end_to_end() -> None:
    with FakeOpenAI() as server:
        server.queue(Reply({"title": "local"}))
        model = resolve_model("ollama:llama3.2:3b", base_url=server.url, timeout=5)
        assert isinstance(model, OpenAIModel)
        with model:
            response = model.request(make_request())
        assert model._client.is_closed()  # the registry built it, so the model closed it
    assert response.model == "ollama:llama3.2:3b"
    assert json.loads(response.content) == {"title": "local"}
    sent = server.last.json
    assert server.last.path == "/v1/chat/completions"
    assert sent["model"] == "llama3.2:3b"
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["max_tokens"] == 256


def test_openai_through_the_registry_uses_max_completion_tokens() -> None:
    with FakeOpenAI(api_key=OPENAI_KEY) as server:
        server.queue(Reply({"title": "x"}))
        model = resolve_model(
            "openai:gpt-4o-mini", base_url=server.base_url, api_key=OPENAI_KEY, timeout=5
        )
        assert isinstance(model, OpenAIModel)
        with model:
            model.request(make_request())
    assert server.last.json["max_completion_tokens"] == 256
    assert "max_tokens" not in server.last.json


def test_groq_defaults_to_tool_calls_and_the_mode_can_be_overridden() -> None:
    with FakeOpenAI(api_key="gsk") as server:
        server.queue(Reply({"title": "x"}), Reply({"title": "y"}))
        cases: list[tuple[StructuredMode | None, bool]] = [(None, True), ("json_schema", False)]
        for structured, expect_tools in cases:
            model = resolve_model(
                "groq:llama-3.3-70b-versatile",
                base_url=server.base_url,
                api_key="gsk",
                structured=structured,
                timeout=5,
            )
            assert isinstance(model, OpenAIModel)
            with model:
                model.request(make_request())
            assert ("tools" in server.last.json) is expect_tools


def test_a_pre_built_client_is_used_and_left_open() -> None:
    with FakeOpenAI(api_key=OPENAI_KEY) as server:
        server.queue(Reply({"title": "x"}))
        client = openai_client(base_url=server.base_url, api_key=OPENAI_KEY, timeout=5)
        try:
            model = resolve_model("vllm:qwen", client=client, stream=True)
            assert isinstance(model, OpenAIModel)
            model.request(make_request())
            model.close()
            assert not client.is_closed()
            assert server.last.json["stream"] is True
        finally:
            client.close()


def test_anthropic_through_the_registry() -> None:
    with FakeAnthropic(api_key=ANTHROPIC_KEY) as server:
        server.queue(Reply({"title": "x"}))
        model = resolve_model(
            "anthropic:claude-fake-1", base_url=server.base_url, api_key=ANTHROPIC_KEY, timeout=5
        )
        assert isinstance(model, AnthropicModel)
        with model:
            response = model.request(make_request())
    assert response.model == "anthropic:claude-fake-1"


@pytest.mark.parametrize(
    ("model_id", "extra", "module"),
    [("ollama:x", "openai", "openai"), ("anthropic:x", "anthropic", "anthropic")],
)
def test_missing_sdk_raises_import_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, model_id: str, extra: str, module: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what an uninstalled package looks like
    with pytest.raises(ImportError, match=rf"pip install 'vitco\[{extra}\]'"):
        resolve_model(model_id, api_key="k", base_url="http://127.0.0.1:9")


def test_importing_the_registry_imports_no_vendor_sdk() -> None:
    code = (
        "import sys, vitco.llm.providers, vitco.llm.pricing;"
        "print(sorted(m for m in ('openai', 'anthropic') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_nothing_outside_llm_providers_imports_a_vendor_sdk() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        if (SRC / "llm" / "providers") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            if any(name.split(".")[0] in ("openai", "anthropic") for name in names):
                offenders.append(f"{path.relative_to(SRC)}:{getattr(node, 'lineno', 0)}")
    assert not offenders


def test_every_registered_provider_has_a_summary() -> None:
    assert {"openai", "anthropic", "ollama", "openrouter", "groq", "vllm", "openai-compat"} <= set(
        PROVIDERS
    )
    assert all(spec.summary for spec in PROVIDERS.values())


def test_the_registry_names_every_provider_variable() -> None:
    names = env_names()
    for spec in PROVIDERS.values():
        assert {spec.key_env, spec.url_env} - {None} <= set(names)
    assert len(names) == len(set(names))
    assert {"OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "OLLAMA_HOST"} <= set(names)


def test_no_module_but_the_registry_names_a_provider_variable() -> None:
    """A provider's variables are written once, in its table entry: no other module holds
    one as a string of its own (a map of keys, an alias, a field), only inside prose."""
    names = set(env_names())
    names |= {f"VITCO_{name}" for name in names}
    registry = SRC / "llm" / "providers" / "__init__.py"
    offenders = []
    for path in SRC.rglob("*.py"):
        if path == registry:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and node.value in names:
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: {node.value}")
    assert not offenders


def test_no_provider_variable_reaches_a_test() -> None:
    leaked = [n for n in env_names() if n in os.environ or f"VITCO_{n}" in os.environ]
    assert not leaked  # the conftest unsets every variable the registry names


def test_a_keyed_provider_without_its_key_names_its_variable() -> None:
    for kind, spec in PROVIDERS.items():
        if spec.key_env:
            with pytest.raises(UnknownModel, match=spec.key_env):
                resolve_model(f"{kind}:some-model")
