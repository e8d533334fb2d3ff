"""The model configuration: providers, tier chains, prices, routing, retries, breakers.

It is resolved from two things ``Settings`` holds:

- ``Settings.models``: the tables of the one configuration file (``vitco.toml``), read when
  the settings are built from the file ``Settings.config_file`` names (``--config FILE`` on the
  command line, else ``VITCO_CONFIG_FILE``; it must exist), else ``<VITCO_HOME>/vitco.toml``
  (see :func:`vitco.config.models_file`); without one, every table keeps its default;
- the environment, through the provider registry (:data:`vitco.llm.providers.PROVIDERS`): each
  provider whose key variable is set (``OPENAI_API_KEY``, ...), or for a keyless one whose URL
  variable is (``OLLAMA_HOST``), with its key, its URL variable and its default chain, so
  exporting a key just works. The names of those variables are written only in the registry.

Never from the working directory. The file decides where the user's API keys are sent (a
provider's ``base_url`` gets ``Authorization: Bearer <key>``), and a directory is not trusted
to decide that: a repository vitco delivered was written by a model, a cloned one by anyone,
and either could ship a ``vitco.toml`` that points ``openai`` at a collector for whoever runs
``vitco models check`` inside it. Only the user names the file (or puts it in the data dir);
the CLI says when a ``./vitco.toml`` is there and ignored.

A file may say as little as it wants; what it leaves out keeps its default (a file with only
``[prices]`` still gets the environment's chains). The format, key by key, is documented for
users in ``docs/configuration.md``; ``vitco init`` writes a commented file.

A tier without a chain borrows the nearest chain above it (else below). A bad file raises
``ModelConfigError`` naming the file, the key and the problem, when ``Settings`` is built
(:mod:`vitco.llm.config_schema` checks it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vitco.config import CONFIG_NAME, Settings
from vitco.llm.breaker import BreakerPolicy
from vitco.llm.config_schema import ModelSettings, PriceFile, RoleRule
from vitco.llm.model import TIERS, Tier
from vitco.llm.providers import PROVIDERS, StructuredMode
from vitco.llm.retry import RetryPolicy

__all__ = [
    "CONFIG_NAME",
    "ModelConfig",
    "ProviderSetup",
    "RoleRule",
    "TierPolicy",
    "config_path",
    "load_model_config",
]


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
        spec = PROVIDERS.get(self.kind)
        return spec is not None and spec.key_env is not None


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
    ``source`` is the file read, or None for environment defaults. ``env_secrets`` are the
    keys the environment holds for registry providers, in use or not (redacted all the same).
    """

    source: Path | None
    providers: Mapping[str, ProviderSetup]
    chains: Mapping[Tier, tuple[str, ...]]
    borrowed: Mapping[Tier, Tier] = field(default_factory=dict)
    prices: Mapping[str, tuple[float, float, float, float]] = field(default_factory=dict)
    policy: TierPolicy = field(default_factory=TierPolicy)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    env_secrets: tuple[str, ...] = field(default=(), repr=False)

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
        """Every API key in use or in the environment, for redaction (cassettes, logs)."""
        keys = [p.api_key for p in self.providers.values() if p.api_key]
        return list(dict.fromkeys([*keys, *self.env_secrets]))


def config_path(settings: Settings) -> Path | None:
    """The configuration file ``settings`` read, or None (see the module docstring).

    The working directory is never looked at: a directory does not choose where keys go.
    """
    return settings.models_file


def load_model_config(settings: Settings) -> ModelConfig:
    """The model configuration ``settings`` holds (its ``models`` section and the providers
    its environment enables), resolved. Opens no file: ``Settings`` read and checked it.
    """
    data = settings.models
    providers = _providers(settings, data)
    if data.tiers:
        chains = {tier: tuple(data.tiers.get(tier, [])) for tier in TIERS}
    else:
        chains = _default_chains(providers)
    chains, borrowed = _fill_gaps(chains)
    env_keys = (_key(settings, spec.key_env) for spec in PROVIDERS.values())
    return ModelConfig(
        source=config_path(settings),
        providers=providers,
        chains=chains,
        borrowed=borrowed,
        prices={k: _price(v) for k, v in data.prices.items()},
        policy=TierPolicy(data.routing.premium_at, data.routing.standard_at, data.roles),
        retry=RetryPolicy(**data.retry.model_dump()),
        breaker=BreakerPolicy(**data.breaker.model_dump()),
        env_secrets=tuple(key for key in env_keys if key),
    )


def _env(settings: Settings, name: str | None) -> str | None:
    return settings.env_value(name) if name else None


def _key(settings: Settings, name: str | None) -> str | None:
    secret = settings.env_secret(name) if name else None
    return secret.get_secret_value() if secret is not None else None


def _providers(settings: Settings, data: ModelSettings) -> dict[str, ProviderSetup]:
    """Providers the environment enables (see ``ProviderSpec.default_chain``), then the
    file's (which override or add)."""
    providers: dict[str, ProviderSetup] = {}
    for kind, spec in PROVIDERS.items():
        if spec.default_chain is None:
            continue
        api_key = _key(settings, spec.key_env)
        if (api_key if spec.key_env else _env(settings, spec.url_env)) is None:
            continue
        providers[kind] = ProviderSetup(
            name=kind,
            kind=kind,
            base_url=_env(settings, spec.url_env),
            api_key=api_key,
            api_key_env=spec.key_env,
        )
    for raw_name, entry in data.providers.items():
        name = raw_name.strip().lower()
        kind = (entry.kind or name).strip().lower()
        spec = PROVIDERS[kind]  # the schema refused kinds the registry lacks
        key_env = entry.api_key_env or spec.key_env
        providers[name] = ProviderSetup(
            name=name,
            kind=kind,
            base_url=entry.base_url or _env(settings, spec.url_env),
            api_key=_key(settings, key_env),
            api_key_env=key_env,
            timeout=entry.timeout,
            stream=entry.stream,
            structured=entry.structured,
        )
    return providers


def _default_chains(providers: Mapping[str, ProviderSetup]) -> dict[Tier, tuple[str, ...]]:
    """The registry's default chains of the providers present: keyed (cloud) providers in
    table order; a keyless (local) one serves alone, else only as the efficient tier's last
    resort."""
    cloud: list[tuple[str, Mapping[Tier, str]]] = []
    local: list[tuple[str, Mapping[Tier, str]]] = []
    for kind, spec in PROVIDERS.items():
        if spec.default_chain is not None and kind in providers:
            (cloud if spec.key_env else local).append((kind, spec.default_chain))
    chains: dict[Tier, tuple[str, ...]] = {}
    for tier in TIERS:
        chosen = [*cloud, *local] if cloud and tier == "efficient" else (cloud or local)
        chains[tier] = tuple(f"{kind}:{chain[tier]}" for kind, chain in chosen)
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
