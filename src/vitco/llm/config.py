"""The model configuration: providers, tier chains, prices, routing, retries, breakers.

Where it comes from, first match wins:

1. the file ``Settings.config_file`` names: ``VITCO_CONFIG_FILE``, or ``--config FILE`` on the
   command line (which sets it for that invocation); it must exist;
2. ``<VITCO_HOME>/vitco.toml`` (the user's or the server's choice);
3. no file: defaults built from the standard environment variables that are set
   (``OPENAI_API_KEY`` + ``OPENAI_BASE_URL``, ``ANTHROPIC_API_KEY`` + ``ANTHROPIC_BASE_URL``,
   ``OPENROUTER_API_KEY``, ``GROQ_API_KEY``, ``OLLAMA_HOST``), so exporting a key just works.

Never from the working directory. The file decides where the user's API keys are sent (a
provider's ``base_url`` gets ``Authorization: Bearer <key>``), and a directory is not trusted
to decide that: a repository vitco delivered was written by a model, a cloned one by anyone,
and either could ship a ``vitco.toml`` that points ``openai`` at a collector for whoever runs
``vitco models check`` inside it. Only the user names the file (or puts it in the data dir);
the CLI says when a ``./vitco.toml`` is there and ignored.

A file may say as little as it wants; what it leaves out keeps its default (a file with only
``[prices]`` still gets the environment's chains). Example::

    [providers.box]                 # a name of your own for an OpenAI-compatible server
    kind = "vllm"
    base_url = "http://gpu-box:8000/v1"
    api_key_env = "BOX_KEY"         # the variable that holds its key (keys never go in files)
    timeout = 120

    [tiers]                         # ordered chains: the router falls back along them
    premium = ["anthropic:claude-opus-5-5", "openai:gpt-4.1"]
    standard = ["anthropic:claude-sonnet-5-5", "box:qwen2.5-coder-32b"]
    efficient = ["openai:gpt-4.1-nano", "ollama:llama3.2"]

    [prices]                        # USD per million tokens; overrides genai-prices
    "box:qwen2.5-coder-32b" = { input = 0.2, output = 0.6 }

    [roles]                         # per role: a fixed tier, or bounds on the computed one
    reviewer = "efficient"
    developer = { min_tier = "standard" }

    [routing]
    premium_at = 8                  # complexity >= 8: premium; >= standard_at: standard
    standard_at = 5

    [retry]
    attempts = 3
    base_delay_s = 0.5
    [breaker]
    failures = 5
    cooldown_s = 30

A tier without a chain borrows the nearest chain above it (else below). A bad file raises
``ModelConfigError`` naming the file, the key and the problem.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from vitco.config import Settings
from vitco.llm.breaker import BreakerPolicy
from vitco.llm.config_schema import ConfigFile, PriceFile, RoleRule
from vitco.llm.exceptions import ModelConfigError
from vitco.llm.model import TIERS, Tier
from vitco.llm.providers import PROVIDERS, StructuredMode
from vitco.llm.retry import RetryPolicy

__all__ = [
    "CONFIG_NAME",
    "DEFAULT_CHAINS",
    "ModelConfig",
    "ProviderSetup",
    "RoleRule",
    "TierPolicy",
    "config_path",
    "load_model_config",
]

CONFIG_NAME = "vitco.toml"

DEFAULT_CHAINS: dict[str, dict[Tier, str]] = {
    "openai": {"premium": "gpt-4.1", "standard": "gpt-4.1-mini", "efficient": "gpt-4.1-nano"},
    "anthropic": {
        "premium": "claude-opus-5-5",
        "standard": "claude-sonnet-5-5",
        "efficient": "claude-haiku-5-5",
    },
    "openrouter": {
        "premium": "anthropic/claude-opus-4.6",
        "standard": "anthropic/claude-sonnet-4.6",
        "efficient": "anthropic/claude-haiku-4.5",
    },
    "groq": {
        "premium": "openai/gpt-oss-120b",
        "standard": "llama-3.3-70b-versatile",
        "efficient": "llama-3.1-8b-instant",
    },
    "ollama": {"premium": "llama3.2", "standard": "llama3.2", "efficient": "llama3.2"},
}
"""Models per tier for each provider found in the environment, cloud providers first. A local
Ollama model is only the last resort of the efficient tier when a cloud provider is present."""

_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "groq": "GROQ_API_KEY",
}


# -- the resolved configuration --------------------------------------------------------------


@dataclass(frozen=True)
class ProviderSetup:
    """A provider with its connection resolved (the key is read, never printed)."""

    name: str
    kind: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    api_key_env: str | None = None
    timeout: float = 60.0
    stream: bool = False
    structured: StructuredMode | None = None

    @property
    def needs_key(self) -> bool:
        return self.kind in _KEY_ENV


@dataclass(frozen=True)
class TierPolicy:
    """Which tier a call gets from its role and complexity (an explicit tier wins over both)."""

    premium_at: int = 8
    standard_at: int = 5
    roles: Mapping[str, RoleRule] = field(default_factory=dict)

    def tier_for(self, role: str, complexity: int) -> Tier:
        rule = self.roles.get(role)
        if rule is not None and rule.tier is not None:
            return rule.tier
        tier: Tier = "efficient"
        if complexity >= self.premium_at:
            tier = "premium"
        elif complexity >= self.standard_at:
            tier = "standard"
        if rule is not None:
            if rule.min_tier is not None and TIERS.index(tier) < TIERS.index(rule.min_tier):
                tier = rule.min_tier
            if rule.max_tier is not None and TIERS.index(tier) > TIERS.index(rule.max_tier):
                tier = rule.max_tier
        return tier


@dataclass(frozen=True)
class ModelConfig:
    """Everything the router is built from.

    ``chains`` has an entry for every tier once anything is configured (see ``borrowed``);
    ``source`` is the file read, or None for environment defaults.
    """

    source: Path | None
    providers: Mapping[str, ProviderSetup]
    chains: Mapping[Tier, tuple[str, ...]]
    borrowed: Mapping[Tier, Tier] = field(default_factory=dict)
    prices: Mapping[str, tuple[float, float, float, float]] = field(default_factory=dict)
    policy: TierPolicy = field(default_factory=TierPolicy)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)

    @property
    def empty(self) -> bool:
        return not any(self.chains.values())

    @property
    def where(self) -> str:
        return str(self.source) if self.source else "environment defaults"

    def provider_of(self, model_id: str) -> ProviderSetup:
        """The provider of a ``name:model`` id (configured, or a registry prefix)."""
        name = model_id.partition(":")[0].strip().lower()
        return self.providers.get(name) or ProviderSetup(name=name, kind=name)

    def secrets(self) -> list[str]:
        """Every API key in use, for redaction (cassettes, logs)."""
        return [p.api_key for p in self.providers.values() if p.api_key]


def config_path(settings: Settings) -> Path | None:
    """The configuration file to read, or None (see the module docstring for the order).

    The working directory is never looked at: a directory does not choose where keys go.
    """
    if settings.config_file is not None:
        return settings.config_file.expanduser()
    candidate = settings.home / CONFIG_NAME
    return candidate if candidate.is_file() else None


def load_model_config(settings: Settings) -> ModelConfig:
    """Read the configuration (file and environment); ``ModelConfigError`` if it is bad.

    Never from the working directory (see the module docstring): a repository vitco delivered
    is written by a model and must not choose where API keys are sent.
    """
    path = config_path(settings)
    data = _read(path) if path is not None else ConfigFile()
    where = str(path) if path else "environment"
    providers = _providers(settings, data, where)
    if data.tiers:
        chains = {tier: tuple(data.tiers.get(tier, [])) for tier in TIERS}
        for tier, chain in chains.items():
            for index, model_id in enumerate(chain):
                _check_model(model_id, providers, where, f"tiers.{tier}[{index}]")
    else:
        chains = _default_chains(providers)
    chains, borrowed = _fill_gaps(chains)
    return ModelConfig(
        source=path,
        providers=providers,
        chains=chains,
        borrowed=borrowed,
        prices={k: _price(v) for k, v in data.prices.items()},
        policy=TierPolicy(data.routing.premium_at, data.routing.standard_at, data.roles),
        retry=RetryPolicy(**data.retry.model_dump()),
        breaker=BreakerPolicy(**data.breaker.model_dump()),
    )


def _read(path: Path) -> ConfigFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelConfigError(str(path), "", f"cannot read it ({exc.strerror or exc})") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ModelConfigError(str(path), "", f"not valid TOML ({exc})") from exc
    try:
        return ConfigFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"] if p != "[key]")
        problem = first["msg"]
        if first["type"] == "extra_forbidden":
            problem = "unknown key (a typo?)"
        elif first["type"] == "literal_error" and "tiers" in key:
            problem = f"{first['msg']} (tiers are premium, standard and efficient)"
        raise ModelConfigError(str(path), key, problem) from exc


def _providers(settings: Settings, data: ConfigFile, where: str) -> dict[str, ProviderSetup]:
    """Providers from the environment, then the file's (which override or add)."""
    env_key = {
        "openai": settings.openai_api_key,
        "anthropic": settings.anthropic_api_key,
        "openrouter": settings.openrouter_api_key,
        "groq": settings.groq_api_key,
    }
    env_url = {
        "openai": settings.openai_base_url,
        "anthropic": settings.anthropic_base_url,
        "ollama": settings.ollama_host,
    }
    providers: dict[str, ProviderSetup] = {}
    for kind in DEFAULT_CHAINS:
        secret = env_key.get(kind)
        if secret is None and not (kind == "ollama" and settings.ollama_host):
            continue
        providers[kind] = ProviderSetup(
            name=kind,
            kind=kind,
            base_url=env_url.get(kind),
            api_key=secret.get_secret_value() if secret is not None else None,
            api_key_env=_KEY_ENV.get(kind),
        )
    for raw_name, entry in data.providers.items():
        name = raw_name.strip().lower()
        kind = (entry.kind or name).strip().lower()
        if kind not in PROVIDERS:
            known = ", ".join(sorted(PROVIDERS))
            raise ModelConfigError(
                where,
                f"providers.{raw_name}.kind",
                f"unknown provider kind {kind!r}; known: {known}",
            )
        key_env = entry.api_key_env or _KEY_ENV.get(kind)
        if entry.api_key_env:
            api_key = settings.env_secret(entry.api_key_env)
        else:
            secret = env_key.get(kind)
            api_key = secret.get_secret_value() if secret is not None else None
        providers[name] = ProviderSetup(
            name=name,
            kind=kind,
            base_url=entry.base_url or env_url.get(kind),
            api_key=api_key,
            api_key_env=key_env,
            timeout=entry.timeout,
            stream=entry.stream,
            structured=entry.structured,
        )
    return providers


def _check_model(
    model_id: str, providers: Mapping[str, ProviderSetup], where: str, key: str
) -> None:
    prefix, sep, name = model_id.partition(":")
    prefix = prefix.strip().lower()
    if not sep or not prefix or not name.strip():
        raise ModelConfigError(where, key, f"{model_id!r} is not of the form 'provider:model'")
    if prefix not in providers and prefix not in PROVIDERS:
        known = ", ".join(sorted(set(providers) | set(PROVIDERS)))
        raise ModelConfigError(where, key, f"unknown provider {prefix!r} (known: {known})")


def _default_chains(providers: Mapping[str, ProviderSetup]) -> dict[Tier, tuple[str, ...]]:
    present = [kind for kind in DEFAULT_CHAINS if kind in providers]
    cloud = [kind for kind in present if kind != "ollama"]
    chains: dict[Tier, tuple[str, ...]] = {}
    for tier in TIERS:
        kinds = cloud or present
        if cloud and "ollama" in present and tier == "efficient":
            kinds = [*cloud, "ollama"]
        chains[tier] = tuple(f"{kind}:{DEFAULT_CHAINS[kind][tier]}" for kind in kinds)
    return chains


def _fill_gaps(
    chains: Mapping[Tier, tuple[str, ...]],
) -> tuple[dict[Tier, tuple[str, ...]], dict[Tier, Tier]]:
    """Give every empty tier the nearest chain above it, else below."""
    filled = dict(chains)
    borrowed: dict[Tier, Tier] = {}
    for index, tier in enumerate(TIERS):
        if filled.get(tier):
            continue
        order = [*TIERS[index + 1 :], *reversed(TIERS[:index])]
        donor = next((t for t in order if chains.get(t)), None)
        if donor is not None:
            filled[tier] = chains[donor]
            borrowed[tier] = donor
    return filled, borrowed


def _price(entry: PriceFile) -> tuple[float, float, float, float]:
    cache_read = entry.cache_read if entry.cache_read is not None else entry.input
    cache_write = entry.cache_write if entry.cache_write is not None else entry.input
    return (entry.input, entry.output, cache_read, cache_write)
