"""The provider registry: ``"provider:model"`` ids to ``Model`` objects.

One table, :data:`PROVIDERS`, says which prefixes exist and everything vitco knows about each:
how a model is built, the environment variables that hold its key and move its server, its
default URL, and the models per tier it gets when the environment alone enables it. The model
configuration (:mod:`vitco.llm.config`), the CLI and the tests' environment guard all derive
from it, so adding a provider is one entry here. It takes connection parameters explicitly
(the router reads them through ``Settings``), and it never imports a vendor SDK until a model
of that vendor is built, so a missing optional SDK only matters to those who use it.

Prefixes: ``openai``, ``anthropic``, ``ollama`` (OpenAI-compatible at ``OLLAMA_HOST`` + ``/v1``),
``openrouter``, ``groq``, ``lmstudio``, and ``vllm`` / ``openai-compat`` (any OpenAI-compatible
server; a base URL is required). More entries (``replay``, ``test``, a local llama.cpp model)
are added to :data:`PROVIDERS` by the modules that own them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from vitco.llm.exceptions import UnknownModel
from vitco.llm.model import Model, Tier
from vitco.llm.providers.openai import MaxTokensParam, StructuredMode

__all__ = [
    "PROVIDERS",
    "Connection",
    "ProviderSpec",
    "StructuredMode",
    "env_names",
    "ollama_base_url",
    "resolve_model",
    "split_model_id",
]

OLLAMA_DEFAULT_PORT = 11434


@dataclass(frozen=True)
class Connection:
    """How to reach a provider; everything a ``Settings`` would supply, made explicit.

    ``client`` is a pre-built SDK client (``openai.OpenAI`` / ``anthropic.Anthropic``): tests
    and connection sharing pass one, and then the caller keeps ownership of it. Without one,
    the model builds its own from ``base_url``/``api_key``/``timeout`` and closes it itself.
    ``structured`` overrides the provider's default structured-output mode (OpenAI-style
    providers only).
    """

    base_url: str | None = None
    api_key: str | None = None
    timeout: float = 120.0
    client: Any = None
    stream: bool = False
    structured: StructuredMode | None = None


ProviderFactory = Callable[[str, str, Connection], Model]
"""``(provider prefix, model name, connection) -> Model``."""


@dataclass(frozen=True)
class ProviderSpec:
    """One registry entry: how to build a model of this provider, what the environment says
    about it, and a line for listings.

    ``key_env`` names the variable that holds its API key (``None``: it needs none; building
    one of its models without a key is refused naming the variable). ``url_env`` names the
    variable that moves its server (``OPENAI_BASE_URL``, ``OLLAMA_HOST``). ``Settings`` reads
    each as ``VITCO_<NAME>``, else ``<NAME>``. ``default_base_url`` is where it is reached when
    nothing else says (``None``: the factory needs one given, or derives it).

    ``default_chain`` (the model per tier) makes the provider one the environment alone can
    enable: a provider with a key when its key is set, a keyless (local) one when its URL
    variable is set. Keyed providers fill the chains in table order; a local one serves every
    tier alone, or is the efficient tier's last resort behind them.
    """

    factory: ProviderFactory
    summary: str
    key_env: str | None = None
    url_env: str | None = None
    default_base_url: str | None = None
    default_chain: Mapping[Tier, str] | None = None


def env_names() -> list[str]:
    """Every variable the registry names (keys and URLs), in table order."""
    names = (n for spec in PROVIDERS.values() for n in (spec.key_env, spec.url_env) if n)
    return list(dict.fromkeys(names))


def split_model_id(model_id: str) -> tuple[str, str]:
    """``"ollama:llama3.2:3b"`` -> ``("ollama", "llama3.2:3b")``; the prefix is lower-cased."""
    provider, sep, name = model_id.partition(":")
    if not sep or not provider or not name:
        raise UnknownModel(model_id, "a model id has the form 'provider:model'")
    return provider.strip().lower(), name.strip()


def resolve_model(
    model_id: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout: float = 120.0,
    client: Any = None,
    stream: bool = False,
    structured: StructuredMode | None = None,
) -> Model:
    """Build the model named by ``model_id`` with the given connection parameters.

    Raises ``UnknownModel`` for an unknown prefix or missing connection details (an API key,
    a base URL), and ``ImportError`` naming the extra when the vendor SDK is not installed.
    Without ``base_url`` the provider's default is used.
    """
    provider, name = split_model_id(model_id)
    spec = PROVIDERS.get(provider)
    if spec is None:
        known = ", ".join(sorted(PROVIDERS))
        raise UnknownModel(model_id, f"unknown provider {provider!r}; known: {known}")
    if spec.key_env and not api_key and client is None:
        # Never left to the SDK: it would read the vendor's variable from the environment.
        raise UnknownModel(model_id, f"{provider} needs an API key; set {spec.key_env}")
    connection = Connection(
        base_url=base_url or spec.default_base_url,
        api_key=api_key,
        timeout=timeout,
        client=client,
        stream=stream,
        structured=structured,
    )
    return spec.factory(provider, name, connection)


def ollama_base_url(host: str | None) -> str:
    """The OpenAI-compatible base URL of an Ollama server given ``OLLAMA_HOST``.

    ``OLLAMA_HOST`` is often a bind address (``0.0.0.0:11434``) or a bare host; a client
    needs a scheme, a reachable host, the port and the ``/v1`` path.
    """
    raw = (host or "").strip() or f"127.0.0.1:{OLLAMA_DEFAULT_PORT}"
    if "://" not in raw:
        raw = f"http://{raw}"
    parts = urlsplit(raw)
    hostname = parts.hostname or "127.0.0.1"
    if hostname in ("0.0.0.0", "::"):
        hostname = "127.0.0.1"
    if ":" in hostname:
        hostname = f"[{hostname}]"
    port = parts.port or (OLLAMA_DEFAULT_PORT if parts.scheme == "http" else None)
    netloc = f"{hostname}:{port}" if port else hostname
    path = parts.path.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def _openai_compatible(
    *,
    structured: StructuredMode = "json_schema",
    max_tokens_param: MaxTokensParam = "max_tokens",
    base_url_of: Callable[[str | None], str] | None = None,
) -> ProviderFactory:
    """A factory for one OpenAI-compatible provider (its key and default URL are checked and
    filled in by :func:`resolve_model` from the provider's table entry); ``base_url_of``
    derives the URL from what was given (Ollama's host)."""

    def build(provider: str, name: str, connection: Connection) -> Model:
        from vitco.llm.providers.openai import OpenAIModel

        options: dict[str, Any] = {
            "provider": provider,
            "structured": connection.structured or structured,
            "stream": connection.stream,
            "max_tokens_param": max_tokens_param,
        }
        if connection.client is not None:
            return OpenAIModel(connection.client, name, **options)
        if base_url_of is not None:
            base_url = base_url_of(connection.base_url)
        else:
            base_url = connection.base_url or ""
        if not base_url:
            raise UnknownModel(f"{provider}:{name}", f"{provider} needs a base URL")
        return OpenAIModel.connect(
            name,
            base_url=base_url,
            api_key=connection.api_key,
            timeout=connection.timeout,
            **options,
        )

    return build


def _anthropic(provider: str, name: str, connection: Connection) -> Model:
    from vitco.llm.providers.anthropic import AnthropicModel

    if connection.client is not None:
        return AnthropicModel(connection.client, name, stream=connection.stream)
    if not connection.api_key:  # resolve_model has said which variable to set
        raise UnknownModel(f"{provider}:{name}", f"{provider} needs an API key")
    return AnthropicModel.connect(
        name,
        api_key=connection.api_key,
        base_url=connection.base_url,
        timeout=connection.timeout,
        stream=connection.stream,
    )


def _llamacpp(provider: str, name: str, connection: Connection) -> Model:
    """``llamacpp:/path/model.gguf``: load the GGUF in this process (the ``local`` extra)."""
    from pathlib import Path

    from vitco.llm.providers.llamacpp import LlamaCppModel

    if not Path(name).expanduser().is_file():
        raise UnknownModel(f"{provider}:{name}", f"no GGUF model file at {name}")
    return LlamaCppModel.load(name)


PROVIDERS: dict[str, ProviderSpec] = {
    "openai": ProviderSpec(
        _openai_compatible(max_tokens_param="max_completion_tokens"),
        "OpenAI (api.openai.com or OPENAI_BASE_URL)",
        key_env="OPENAI_API_KEY",
        url_env="OPENAI_BASE_URL",
        default_base_url="https://api.openai.com/v1",
        default_chain={
            "premium": "gpt-4.1",
            "standard": "gpt-4.1-mini",
            "efficient": "gpt-4.1-nano",
        },
    ),
    "anthropic": ProviderSpec(
        _anthropic,
        "Anthropic Messages API",
        key_env="ANTHROPIC_API_KEY",
        url_env="ANTHROPIC_BASE_URL",
        default_chain={
            "premium": "claude-opus-5-5",
            "standard": "claude-sonnet-5-5",
            "efficient": "claude-haiku-5-5",
        },
    ),
    "ollama": ProviderSpec(
        _openai_compatible(base_url_of=ollama_base_url),
        "Ollama, OpenAI-compatible at OLLAMA_HOST/v1 (default 127.0.0.1:11434)",
        url_env="OLLAMA_HOST",
        default_chain={"premium": "llama3.2", "standard": "llama3.2", "efficient": "llama3.2"},
    ),
    "openrouter": ProviderSpec(
        _openai_compatible(),
        "OpenRouter",
        key_env="OPENROUTER_API_KEY",
        default_base_url="https://openrouter.ai/api/v1",
        default_chain={
            "premium": "anthropic/claude-opus-4.6",
            "standard": "anthropic/claude-sonnet-4.6",
            "efficient": "anthropic/claude-haiku-4.5",
        },
    ),
    "groq": ProviderSpec(
        # Groq's json_schema mode covers few models; forced tool calls work on most.
        _openai_compatible(structured="tool"),
        "Groq",
        key_env="GROQ_API_KEY",
        default_base_url="https://api.groq.com/openai/v1",
        default_chain={
            "premium": "openai/gpt-oss-120b",
            "standard": "llama-3.3-70b-versatile",
            "efficient": "llama-3.1-8b-instant",
        },
    ),
    "lmstudio": ProviderSpec(
        _openai_compatible(),
        "LM Studio's local server",
        default_base_url="http://127.0.0.1:1234/v1",
    ),
    "vllm": ProviderSpec(_openai_compatible(), "a vLLM server (base URL required)"),
    "openai-compat": ProviderSpec(
        _openai_compatible(),
        "any OpenAI-compatible server, e.g. llama.cpp server (base URL required)",
    ),
    "llamacpp": ProviderSpec(
        _llamacpp, "a GGUF model in this process via llama-cpp-python (pip install 'vitco[local]')"
    ),
}
