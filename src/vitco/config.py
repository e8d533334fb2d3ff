"""Settings: the one place that reads the environment.

Everything configurable is a field here, read from ``VITCO_*`` environment variables (and the
standard provider variables such as ``OPENAI_API_KEY``). Nothing else in the package touches
``os.environ``; code receives a ``Settings`` (or the values it needs) from its caller.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SandboxKind = Literal["bwrap", "unsafe"]


def _default_home() -> Path:
    return Path.home() / ".vitco"


class Settings(BaseSettings):
    """All of vitco's configuration. Embedded vs distributed differs only in these values."""

    model_config = SettingsConfigDict(env_prefix="VITCO_", extra="ignore", frozen=True)

    home: Path = Field(default_factory=_default_home, description="Data directory.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: a SQLite file in the data dir."
    )
    redis_url: str | None = None
    auto_migrate: bool = Field(
        default=True,
        description="Migrate the database on first use; off where `vitco db upgrade` does it.",
    )

    model: str | None = Field(
        default=None, description="Default model id, e.g. 'replay:FILE' or 'openai:gpt-4o-mini'."
    )
    sandbox: SandboxKind = "bwrap"
    sandbox_user: str = "vitco-sandbox"

    max_attempts: int = Field(default=3, ge=1, le=10)
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
    checkpoint_days: float = Field(
        default=7.0, ge=0, description="Keep a finished run's checkpoints this long (vitco gc)."
    )
    crash_at: str | None = Field(
        default=None, description="Testing only: SIGKILL the process at this named point."
    )

    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("VITCO_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("VITCO_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("VITCO_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
    )
    anthropic_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("VITCO_ANTHROPIC_BASE_URL", "ANTHROPIC_BASE_URL"),
    )
    ollama_host: str | None = Field(
        default=None, validation_alias=AliasChoices("VITCO_OLLAMA_HOST", "OLLAMA_HOST")
    )
    openrouter_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("VITCO_OPENROUTER_API_KEY", "OPENROUTER_API_KEY"),
    )
    groq_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("VITCO_GROQ_API_KEY", "GROQ_API_KEY")
    )
    config_file: Path | None = Field(
        default=None,
        description="Model configuration (vitco.toml); --config FILE sets it per command; "
        "default: the data dir's. Never read from the working directory (not trusted).",
    )
    cache_ttl_s: float = Field(
        default=7 * 24 * 3600.0, ge=0, description="LLM response cache TTL; 0 turns it off."
    )

    def env_secret(self, name: str) -> str | None:
        """The environment variable ``name``: a key that vitco.toml names by ``api_key_env``."""
        return os.environ.get(name) or None

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'vitco.sqlite'}"

    @property
    def checkpoints_path(self) -> Path:
        return self.home / "checkpoints.sqlite"

    @property
    def projects_dir(self) -> Path:
        return self.home / "projects"

    @property
    def sandbox_state_dir(self) -> Path:
        """Scratch dirs, app sockets and app logs of the sandbox: vitco's, never mounted."""
        return self.home / "sandbox"

    @property
    def cache_dir(self) -> Path:
        """What the host fetched for projects' dependencies (wheels, npm packages), shared by
        projects and read-only to them."""
        return self.home / "cache"

    @property
    def deliveries_dir(self) -> Path:
        """Built artifacts of deliveries (a library's wheel and docs), one folder per run."""
        return self.home / "deliveries"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    def ensure_dirs(self) -> None:
        """The data dir (0700 when vitco creates it: it holds every brief and the keys' uses)
        and its folders."""
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        for d in (self.projects_dir, self.outbox_dir):
            d.mkdir(parents=True, exist_ok=True)
