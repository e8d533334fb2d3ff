"""The schema of ``vitco.toml``: ``Settings.models``, what each table may hold, checked strictly.

Unknown keys are errors (a typo must not silently fall back to a default), and so are names
nothing knows (a provider kind the registry lacks, a tier chain's ``provider:model`` whose
provider is neither declared nor registered). :func:`parse_model_settings` turns what a file
holds into :class:`ModelSettings` or a ``ModelConfigError`` naming the file, the key and the
problem. Short forms: a price may be ``[input, output(, cache_read(, cache_write))]`` and a
role rule may be just a tier name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from vitco.llm.exceptions import ModelConfigError
from vitco.llm.model import Tier
from vitco.llm.providers import PROVIDERS, StructuredMode

__all__ = [
    "BreakerFile",
    "ModelSettings",
    "PriceFile",
    "ProviderFile",
    "RetryFile",
    "RoleRule",
    "RoutingFile",
    "parse_model_settings",
]

_AT_KEY = "vitco_config_key"
"""The type of a validation error that carries the exact key (``tiers.premium[0]``)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderFile(_Strict):
    kind: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    timeout: float = Field(default=60.0, gt=0)
    stream: bool = False
    structured: StructuredMode | None = None


class RoleRule(_Strict):
    """A role's say in its tier: a fixed ``tier``, or bounds on the one complexity gives."""

    tier: Tier | None = None
    min_tier: Tier | None = None
    max_tier: Tier | None = None


class PriceFile(_Strict):
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)


class RoutingFile(_Strict):
    premium_at: int = Field(default=8, ge=1, le=11)
    standard_at: int = Field(default=5, ge=1, le=11)

    @model_validator(mode="after")
    def _ordered(self) -> RoutingFile:
        if self.standard_at > self.premium_at:
            raise ValueError("standard_at must not be above premium_at")
        return self


class RetryFile(_Strict):
    attempts: int = Field(default=3, ge=1, le=10)
    base_delay_s: float = Field(default=0.5, ge=0)
    max_delay_s: float = Field(default=20.0, ge=0)
    jitter: float = Field(default=0.5, ge=0, le=1)
    max_retry_after_s: float = Field(default=60.0, ge=0)
    max_output_tokens: int = Field(default=32_768, ge=1)


class BreakerFile(_Strict):
    failures: int = Field(default=5, ge=1)
    cooldown_s: float = Field(default=30.0, ge=0)


class ModelSettings(_Strict):
    """The model configuration as ``vitco.toml`` declares it (its tables, unresolved):
    ``Settings.models``. :func:`vitco.llm.config.load_model_config` resolves it."""

    providers: dict[str, ProviderFile] = {}
    tiers: dict[Tier, list[str]] = {}
    prices: dict[str, PriceFile] = {}
    roles: dict[str, RoleRule] = {}
    routing: RoutingFile = RoutingFile()
    retry: RetryFile = RetryFile()
    breaker: BreakerFile = BreakerFile()

    @field_validator("prices", mode="before")
    @classmethod
    def _price_lists(cls, value: Any) -> Any:
        """``[input, output(, cache_read(, cache_write))]`` is short for the table form."""
        if not isinstance(value, dict):
            return value
        names = ("input", "output", "cache_read", "cache_write")
        return {
            k: dict(zip(names, v, strict=False)) if isinstance(v, list) and 2 <= len(v) <= 4 else v
            for k, v in value.items()
        }

    @field_validator("roles", mode="before")
    @classmethod
    def _role_shorthand(cls, value: Any) -> Any:
        """``reviewer = "efficient"`` is short for ``reviewer = { tier = "efficient" }``."""
        if not isinstance(value, dict):
            return value
        return {k: {"tier": v} if isinstance(v, str) else v for k, v in value.items()}

    @model_validator(mode="after")
    def _known_names(self) -> ModelSettings:
        for raw_name, entry in self.providers.items():
            kind = (entry.kind or raw_name).strip().lower()
            if kind not in PROVIDERS:
                known = ", ".join(sorted(PROVIDERS))
                raise _at(
                    f"providers.{raw_name}.kind", f"unknown provider kind {kind!r}; known: {known}"
                )
        names = {name.strip().lower() for name in self.providers} | set(PROVIDERS)
        for tier, chain in self.tiers.items():
            for index, model_id in enumerate(chain):
                key = f"tiers.{tier}[{index}]"
                prefix, sep, name = model_id.partition(":")
                prefix = prefix.strip().lower()
                if not sep or not prefix or not name.strip():
                    raise _at(key, f"{model_id!r} is not of the form 'provider:model'")
                if prefix not in names:
                    known = ", ".join(sorted(names))
                    raise _at(key, f"unknown provider {prefix!r} (known: {known})")
        return self


def _at(key: str, problem: str) -> PydanticCustomError:
    return PydanticCustomError(_AT_KEY, "{key}: {problem}", {"key": key, "problem": problem})


def parse_model_settings(data: Mapping[str, Any], where: str) -> ModelSettings:
    """What a ``vitco.toml`` at ``where`` holds, checked; ``ModelConfigError`` naming ``where``,
    the first bad key and its problem."""
    try:
        return ModelSettings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == _AT_KEY:
            context = first.get("ctx") or {}
            raise ModelConfigError(where, context["key"], context["problem"]) from exc
        key = ".".join(str(p) for p in first["loc"] if p != "[key]")
        problem = first["msg"]
        if first["type"] == "extra_forbidden":
            problem = "unknown key (a typo?)"
        elif first["type"] == "literal_error" and "tiers" in key:
            problem = f"{first['msg']} (tiers are premium, standard and efficient)"
        raise ModelConfigError(where, key, problem) from exc
