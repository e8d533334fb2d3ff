"""The schema of ``vitco.toml``: what each table may hold, checked strictly.

Unknown keys are errors (a typo must not silently fall back to a default); the loader in
:mod:`vitco.llm.config` turns validation errors into ``ModelConfigError`` naming the key.
Short forms: a price may be ``[input, output(, cache_read(, cache_write))]`` and a role rule
may be just a tier name.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vitco.llm.model import Tier
from vitco.llm.providers import StructuredMode

__all__ = [
    "BreakerFile",
    "ConfigFile",
    "PriceFile",
    "ProviderFile",
    "RetryFile",
    "RoleRule",
    "RoutingFile",
]


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


class BreakerFile(_Strict):
    failures: int = Field(default=5, ge=1)
    cooldown_s: float = Field(default=30.0, ge=0)


class ConfigFile(_Strict):
    """The schema of ``vitco.toml``."""

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
