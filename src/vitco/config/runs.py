"""Settings of a run: the model, the sandbox, attempts, budgets, checkpoints and the model
configuration file (a part of ``vitco.config.Settings``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

from vitco.llm.config_schema import ModelSettings

SandboxKind = Literal["bwrap", "unsafe"]


class Runs(BaseSettings):
    """Model, sandbox, attempts, budget, checkpoints."""

    model: str | None = Field(
        default=None, description="Default model id, e.g. 'replay:FILE' or 'openai:gpt-4o-mini'."
    )
    sandbox: SandboxKind = "bwrap"
    sandbox_user: str = "vitco-sandbox"

    max_attempts: int = Field(default=3, ge=1, le=10)
    spec_checks: int = Field(
        default=2,
        ge=1,
        le=5,
        description="Critic passes over a spec before planning (the analyst fixes in between).",
    )
    max_parallel: int = Field(default=4, ge=1, le=64, description="Tasks run at once.")
    test_timeout_s: float = Field(
        default=300.0, gt=0, description="Wall-clock limit of one sandboxed command."
    )
    sandbox_disk_mb: int = Field(
        default=2048,
        ge=16,
        description="What a project's workspace and a command's private /tmp may hold (MiB).",
    )
    health_timeout_s: float = Field(default=30.0, gt=0)
    budget_usd: float | None = Field(default=None, ge=0)
    allow_unpriced: bool = Field(
        default=False,
        description="Under a budget, call models with no known price anyway (their spend "
        "is not metered in USD). Default: refuse them; give them a price in vitco.toml.",
    )
    checkpoint_days: float = Field(
        default=7.0, ge=0, description="Keep a finished run's checkpoints this long (vitco gc)."
    )
    crash_at: str | None = Field(
        default=None, description="Testing only: SIGKILL the process at this named point."
    )

    config_file: Path | None = Field(
        default=None,
        description="Model configuration (vitco.toml); --config FILE sets it per command; "
        "default: the data dir's. Never read from the working directory (not trusted).",
    )
    models: ModelSettings = Field(
        default_factory=ModelSettings,
        description="The model configuration file's tables (providers, tiers, prices, roles, "
        "routing, retry, breaker), read from the file models_file picks.",
    )
    cache_ttl_s: float = Field(
        default=7 * 24 * 3600.0, ge=0, description="LLM response cache TTL; 0 turns it off."
    )
