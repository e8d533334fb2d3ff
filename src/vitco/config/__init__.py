"""Settings: the one place that reads the environment and the configuration file.

Everything configurable is a field here, read from ``VITCO_*`` environment variables; the
``models`` section is the model configuration file (``vitco.toml``), read through
pydantic-settings' TOML source from the one file :func:`models_file` picks. The providers'
own variables (``OPENAI_API_KEY``, ``OLLAMA_HOST``, ...) are named by the provider registry
(:data:`vitco.llm.providers.PROVIDERS`) and read through :meth:`Settings.env_value`. Nothing
else in the package touches ``os.environ``; code receives a ``Settings`` (or the values it
needs) from its caller.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from functools import cached_property
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from vitco.config.backends import Backends
from vitco.config.integrations import Integrations
from vitco.config.runs import Runs, SandboxKind
from vitco.config.service import Service
from vitco.llm.config_schema import parse_model_settings
from vitco.llm.exceptions import ModelConfigError

__all__ = ["CONFIG_NAME", "SandboxKind", "Settings", "models_file"]

CONFIG_NAME = "vitco.toml"


def _default_home() -> Path:
    return Path.home() / ".vitco"


def models_file(config_file: Path | None, home: Path) -> Path | None:
    """The model configuration file: ``config_file`` when one is named (``--config FILE``,
    ``VITCO_CONFIG_FILE``; it must exist), else ``<home>/vitco.toml`` if there is one.

    Never the working directory. The file decides where the user's API keys are sent (a
    provider's ``base_url`` gets ``Authorization: Bearer <key>``), and a directory is not
    trusted to decide that: a repository vitco delivered was written by a model, a cloned one
    by anyone, and either could ship a ``vitco.toml`` pointing ``openai`` at a collector.
    """
    if config_file is not None:
        return config_file.expanduser()
    candidate = home / CONFIG_NAME
    return candidate if candidate.is_file() else None


class _ModelsFile(TomlConfigSettingsSource):
    """The ``models`` section: the tables of the file :func:`models_file` picked, checked.

    A named file that is missing, unreadable, not TOML or not valid raises ``ModelConfigError``
    naming the file (and the key): the file is read when ``Settings`` is built.
    """

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None, named: bool) -> None:
        if path is not None and named and not path.is_file():
            problem = "not a file" if path.exists() else "no such file"
            raise ModelConfigError(str(path), "", f"cannot read it ({problem})")
        super().__init__(settings_cls, toml_file=path)

    def _read_file(self, file_path: Path | Traversable) -> dict[str, Any]:
        where = str(file_path)
        try:
            data = super()._read_file(file_path)
        except OSError as exc:
            raise ModelConfigError(where, "", f"cannot read it ({exc.strerror or exc})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ModelConfigError(where, "", f"not valid TOML ({exc})") from exc
        return {"models": parse_model_settings(data, where)}


class Settings(Backends, Runs, Service, Integrations):
    """All of vitco's configuration. Embedded vs distributed differs only in these values.

    Its fields are defined by group, one module each (``backends``, ``runs``, ``service``,
    ``integrations``); they are one flat set of ``VITCO_*`` variables all the same."""

    model_config = SettingsConfigDict(env_prefix="VITCO_", extra="ignore", frozen=True)

    home: Path = Field(default_factory=_default_home, description="Data directory.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then the model configuration file (lowest).

        Which file depends on ``config_file`` and ``home``, which themselves come from the
        arguments or the environment: they are looked up there first, the same way.
        """
        given = env_settings() | init_settings()
        named = given.get("config_file") or None
        home = given.get("home") or _default_home()
        config_file = Path(named) if named is not None else None
        path = models_file(config_file, Path(home))
        models = _ModelsFile(settings_cls, path, named=config_file is not None)
        return (init_settings, env_settings, dotenv_settings, file_secret_settings, models)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with ``update``; one that moves the model configuration (``config_file``,
        ``home``) is built anew, so its ``models`` are read from where they now point."""
        if update and not update.keys().isdisjoint({"config_file", "home"}):
            kept = {name: getattr(self, name) for name in type(self).model_fields}
            del kept["models"]
            return type(self)(**(kept | dict(update)))
        return super().model_copy(update=update, deep=deep)

    @classmethod
    def config_target(cls, config_file: Path | None = None) -> Path:
        """Where the model configuration file is or would be: ``config_file``, else
        ``VITCO_CONFIG_FILE``, else ``<VITCO_HOME>/vitco.toml``; found without reading it, nor
        any other setting (``vitco init`` writes one, also over a broken one)."""
        given = EnvSettingsSource(cls)()
        named = config_file or given.get("config_file")
        if named:
            return Path(named).expanduser()
        return Path(given.get("home") or _default_home()).expanduser() / CONFIG_NAME

    @property
    def models_file(self) -> Path | None:
        """The model configuration file these settings point at (see :func:`models_file`)."""
        return models_file(self.config_file, self.home)

    def env_value(self, name: str) -> str | None:
        """The variable ``VITCO_<NAME>``, else ``<NAME>`` (empty counts as unset).

        How a provider's variables are read: the registry names them (``OPENAI_API_KEY``,
        ``OLLAMA_HOST``), a ``vitco.toml`` names others by ``api_key_env``. The ``VITCO_``
        form lets a key be set where only vitco's variables are passed on.
        """
        return os.environ.get(f"VITCO_{name}") or os.environ.get(name) or None

    def env_secret(self, name: str) -> SecretStr | None:
        """:meth:`env_value` for a key: hidden from reprs and logs until it is used."""
        value = self.env_value(name)
        return SecretStr(value) if value is not None else None

    @property
    def resolved_queue(self) -> Literal["store", "redis"]:
        """The run queue in use (see ``queue``)."""
        if self.queue is not None:
            return self.queue
        return "redis" if self.redis_url else "store"

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
    def embedded(self) -> bool:
        """No shared database: one host, the data dir is vitco's own."""
        return self.database_url is None

    @property
    def artifacts_dir(self) -> Path:
        """Run artifacts of the local artifact store (storage_backend local)."""
        return self.home / "artifacts"

    @property
    def git_host_dir(self) -> Path:
        """The local git host's bare repositories, one per project."""
        return self.home / "git"

    @property
    def invoices_dir(self) -> Path:
        """The local payment service's invoices."""
        return self.home / "invoices"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    def ensure_dirs(self) -> None:
        """The data dir (0700 when vitco creates it: it holds every brief and the keys' uses)
        and its folders."""
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        for d in (self.projects_dir, self.outbox_dir):
            d.mkdir(parents=True, exist_ok=True)
