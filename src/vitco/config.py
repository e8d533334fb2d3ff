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

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from vitco.llm.config_schema import ModelSettings, parse_model_settings
from vitco.llm.exceptions import ModelConfigError

SandboxKind = Literal["bwrap", "unsafe"]

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


class Settings(BaseSettings):
    """All of vitco's configuration. Embedded vs distributed differs only in these values."""

    model_config = SettingsConfigDict(env_prefix="VITCO_", extra="ignore", frozen=True)

    home: Path = Field(default_factory=_default_home, description="Data directory.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: a SQLite file in the data dir."
    )
    redis_url: str | None = None
    queue: Literal["store", "redis"] | None = Field(
        default=None,
        description="Run queue: 'redis' (shared by every worker) or 'store' (the database); "
        "default: redis when VITCO_REDIS_URL is set, else store.",
    )
    queue_prefix: str = Field(
        default="vitco:queue:",
        pattern=r"^[A-Za-z0-9:._-]{1,64}$",
        description="Prefix of the Redis run queue's keys (one installation per prefix).",
    )
    queue_lease_s: float = Field(
        default=60.0,
        ge=1.0,
        le=3600.0,
        description="Visibility timeout of a taken job: a worker that stops renewing it "
        "(died, hung) loses it to another worker after this long.",
    )
    worker_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Runs one worker (vitco worker, or the one inside vitco serve) executes "
        "at once.",
    )
    replay_latency_s: float = Field(
        default=0.0,
        ge=0,
        le=60,
        description="A replayed model (replay:FILE) answers after this many seconds, like a "
        "provider would: what bench/scale.py measures scaling at.",
    )
    serve_worker: bool = Field(
        default=True,
        description="vitco serve: execute queued runs in this process too; false where "
        "separate vitco worker processes execute them (a fleet).",
    )
    lease_backend: Literal["database", "redis"] = Field(
        default="database",
        description="Where runs' leases live: the store's database, or Redis (redis_url).",
    )
    lease_ttl_s: float = Field(
        default=10.0,
        ge=0.5,
        le=3600,
        description="How long a run's lease lasts unrenewed: a dead worker's run is taken "
        "over this long after its last renewal (renewed every third of it).",
    )
    lease_local_takeover: bool = Field(
        default=True,
        description="Take over at once a run whose lease holder is a dead process of this "
        "machine, instead of waiting for the lease to expire.",
    )
    lease_prefix: str = Field(
        default="vitco:",
        pattern=r"^[A-Za-z0-9:._-]{1,64}$",
        description="Key prefix of runs' leases in Redis.",
    )
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

    api_cors_origins: list[str] = Field(
        default_factory=list,
        description="vitco serve: origins a browser may call the API from (JSON list); none "
        "by default, and '*' only when set so.",
    )
    api_max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="vitco serve: the largest request body."
    )
    api_rate_per_s: float = Field(
        default=10.0, gt=0, description="vitco serve: requests a second per API key (sustained)."
    )
    api_rate_burst: int = Field(
        default=60, ge=1, description="vitco serve: requests an API key may make at once."
    )
    deploy_ports: tuple[int, int] = Field(
        default=(20000, 29999),
        description="vitco serve: the range (first, last; JSON list) a deployment's stable port "
        "on 127.0.0.1 is picked from, once; below Linux's ephemeral ports, so no outgoing "
        "connection takes one while vitco serve is down.",
    )
    api_models: list[str] = Field(
        default_factory=list,
        description="vitco serve: model ids a caller may pick for a run, besides VITCO_MODEL "
        "(the default); a caller never names any other (a replay: id names a server file).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="vitco serve: the bearer token a Prometheus scrape of /metrics must send; "
        "unset, /metrics answers whoever reaches the server.",
    )
    web_session_secret: SecretStr | None = Field(
        default=None,
        description="vitco serve: the secret (32 bytes or more) browser session cookies are "
        "signed with; unset, one is made once in the data dir (web-session.key). Servers "
        "behind one load balancer share one.",
    )
    web_session_hours: float = Field(
        default=8.0,
        gt=0,
        le=24 * 30,
        description="vitco serve: how long a browser stays logged in after pasting its key.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="vitco serve: the lowest level of vitco's log lines."
    )
    log_format: Literal["json", "console"] = Field(
        default="json",
        description="vitco serve: log lines as JSON objects (one a line) or as text.",
    )
    server: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="The CLI's remote mode: drive the vitco serve at this URL instead of the "
        "local data dir (vitco --server URL overrides it).",
    )
    api_key: SecretStr | None = Field(
        default=None, description="The CLI's remote mode: the API key it sends to the server."
    )

    mail_backend: Literal["outbox", "smtp", "sendgrid"] = Field(
        default="outbox",
        description="Where mails go besides the outbox (which always gets every one): "
        "'smtp' (VITCO_SMTP_*) or 'sendgrid' (VITCO_SENDGRID_*).",
    )
    mail_from: str = Field(
        default="vitco delivery <delivery@vitco.local>",
        description="The From of every mail (SendGrid wants a verified sender).",
    )
    smtp_host: str | None = Field(default=None, description="The SMTP server (mail_backend smtp).")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="The SMTP server's port.")
    smtp_starttls: bool = Field(
        default=True,
        description="Upgrade with STARTTLS before AUTH and the message, and refuse a server "
        "that does not offer it (off only for a relay on this host).",
    )
    smtp_ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA(s) that sign the SMTP server's certificate; default: "
        "the system's.",
    )
    smtp_username: str | None = Field(default=None, description="SMTP AUTH user (if any).")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP AUTH password.")
    smtp_timeout_s: float = Field(default=30.0, gt=0, description="SMTP connect/read timeout.")
    sendgrid_api_key: SecretStr | None = Field(
        default=None, description="SendGrid API key (mail_backend sendgrid)."
    )
    sendgrid_base_url: str = Field(
        default="https://api.sendgrid.com",
        pattern=r"^https?://",
        description="SendGrid's API (changed only for a proxy or a test server).",
    )

    storage_backend: Literal["local", "s3"] = Field(
        default="local",
        description="Where run artifacts are kept: 'local' (<home>/artifacts) or 's3' "
        "(an S3-compatible bucket, VITCO_S3_*; needs the s3 extra).",
    )
    s3_bucket: str | None = Field(default=None, description="The bucket (storage_backend s3).")
    s3_prefix: str = Field(default="", description="Key prefix inside the bucket.")
    s3_endpoint_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="An S3-compatible server (MinIO, Ceph, R2...); default: AWS.",
    )
    s3_region: str = Field(default="us-east-1", description="The bucket's region.")
    s3_access_key_id: str | None = Field(
        default=None, description="Access key id; unset: boto3's own credential chain."
    )
    s3_secret_access_key: SecretStr | None = Field(default=None, description="Its secret.")

    master_key: SecretStr | None = Field(
        default=None,
        description="The master key (base64 of 32 random bytes) that wraps each tenant's data "
        "key (secrets at rest, AES-256-GCM). Unset in the embedded mode: <home>/master.key, "
        "made once (mode 0600); required with a shared database (VITCO_DATABASE_URL).",
    )
    master_key_old: SecretStr | None = Field(
        default=None,
        description="The previous master key while rotating: vitco secrets rotate unwraps "
        "data keys with it and wraps them with VITCO_MASTER_KEY.",
    )

    hook_tolerance_s: float = Field(
        default=300.0,
        gt=0,
        description="vitco serve: how far from now a signed webhook's timestamp may be "
        "(generic, stripe); older ones are refused as replays.",
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, description="vitco serve: how long one outbound delivery may take."
    )
    webhook_max_attempts: int = Field(
        default=6, ge=1, le=20, description="vitco serve: tries of an outbound delivery."
    )
    webhook_backoff_s: float = Field(
        default=2.0,
        gt=0,
        description="vitco serve: the wait after a delivery's first failure (doubling, "
        "with jitter, up to an hour).",
    )
    webhook_workers: int = Field(
        default=4, ge=1, le=64, description="vitco serve: outbound deliveries sent at once."
    )
    webhook_queue_size: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description="vitco serve: due deliveries held in memory (the rest wait in the store).",
    )
    dependency_wait_s: float = Field(
        default=300.0,
        gt=0,
        description="How long a run waits for its database (or Redis) to answer again after "
        "losing it mid-step before it stops (resumable); it then goes on from its checkpoint.",
    )
    live_idle_s: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        description="vitco serve: the longest a live event stream waits for a wake-up of the "
        "event bus (in-process, or Redis with VITCO_REDIS_URL) before it reads the events "
        "table anyway; a lost wake-up costs at most this much latency. Without Redis the "
        "in-process bus cannot hear other processes, so the table is also read every 50 ms.",
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="vitco serve: let subscribers' URLs point at private, loopback or "
        "link-local addresses (off: vitco never calls into its own network for a tenant).",
    )

    git_host: Literal["local", "github", "none"] = Field(
        default="local",
        description="Where runs publish their repository, one reviewed branch per task: a bare "
        "repository per project under <home>/git, GitHub (github_* settings), or nowhere.",
    )
    github_token: SecretStr | None = Field(
        default=None, description="git_host=github: the token (repo scope) vitco acts with."
    )
    github_api_url: str = Field(
        default="https://api.github.com",
        pattern=r"^https?://",
        description="git_host=github: the REST API's base URL (GitHub Enterprise: .../api/v3).",
    )
    github_url: str = Field(
        default="https://github.com",
        pattern=r"^https?://",
        description="git_host=github: the base URL git pushes to (<url>/<owner>/<repo>.git).",
    )
    github_org: str | None = Field(
        default=None,
        description="git_host=github: the organization repositories are made in; default: "
        "the token's user.",
    )

    deploy_target: Literal["local", "command", "vercel"] = Field(
        default="local",
        description="Where a delivery goes live after its checks in the sandbox: the local, "
        "supervised deployment, the user's own commands, or Vercel.",
    )
    deploy_build_command: list[str] = Field(
        default_factory=list,
        description="deploy_target=command: the build (argv, JSON list), run in the sandbox in "
        "the release's files.",
    )
    deploy_ship_command: list[str] = Field(
        default_factory=list,
        description="deploy_target=command: the ship command (argv, JSON list), run on the host "
        "with the release's .tar.gz as its last argument; it prints the URL.",
    )
    deploy_smoke_path: str | None = Field(
        default=None,
        pattern=r"^/",
        description="deploy_target command or vercel: the path checked at the URL the target "
        "answers (200 expected); default: the DevOps plan's health path, else /.",
    )
    deploy_command_timeout_s: float = Field(
        default=600.0, gt=0, description="deploy_target=command: how long the ship may take."
    )
    vercel_token: SecretStr | None = Field(
        default=None, description="deploy_target=vercel: the token deployments are made with."
    )
    vercel_api_url: str = Field(
        default="https://api.vercel.com",
        pattern=r"^https?://",
        description="deploy_target=vercel: the REST API's base URL.",
    )
    vercel_team_id: str | None = Field(
        default=None, description="deploy_target=vercel: the team (teamId) to deploy under."
    )
    vercel_url_scheme: Literal["https", "http"] = Field(
        default="https",
        description="deploy_target=vercel: the scheme of the deployment URLs Vercel answers "
        "(http only for a Vercel-compatible server without TLS).",
    )

    payments: Literal["local", "stripe"] = Field(
        default="local",
        description="Where a payment gate issues a project's invoice: a JSON file in "
        "<home>/invoices (paid by a manager's approve), or Stripe (stripe_* settings).",
    )
    stripe_api_key: SecretStr | None = Field(
        default=None, description="payments=stripe: the secret key (sk_...) vitco bills with."
    )
    stripe_api_url: str = Field(
        default="https://api.stripe.com",
        pattern=r"^https?://",
        description="payments=stripe: the API's base URL.",
    )
    quote_usd_per_point: float = Field(
        default=0.05,
        ge=0,
        le=1000,
        description="The quote: USD per complexity point of the plan's tasks, added to what "
        "the models cost so far.",
    )
    quote_margin: float = Field(
        default=0.3, ge=0, le=10, description="The quote: the margin on the estimate (0.3: 30 %)."
    )
    tenant_margins: dict[str, float] = Field(
        default_factory=dict,
        description="The quote: a tenant's own margin, by tenant id (JSON object), instead of "
        "quote_margin.",
    )
    payment_currency: str = Field(
        default="usd", pattern=r"^[a-z]{3}$", description="The currency invoices are made in."
    )

    @model_validator(mode="after")
    def _mail_backend_configured(self) -> Self:
        if self.mail_backend == "smtp" and not self.smtp_host:
            raise ValueError("VITCO_MAIL_BACKEND=smtp needs VITCO_SMTP_HOST")
        if self.mail_backend == "sendgrid" and self.sendgrid_api_key is None:
            raise ValueError("VITCO_MAIL_BACKEND=sendgrid needs VITCO_SENDGRID_API_KEY")
        if self.storage_backend == "s3" and not self.s3_bucket:
            raise ValueError("VITCO_STORAGE_BACKEND=s3 needs VITCO_S3_BUCKET")
        return self

    @field_validator("deploy_ports")
    @classmethod
    def _port_range(cls, value: tuple[int, int]) -> tuple[int, int]:
        first, last = value
        if not 1024 <= first <= last <= 65535:
            raise ValueError("give two ports, first <= last, between 1024 and 65535")
        return value

    @model_validator(mode="after")
    def _queue_needs_redis(self) -> Self:
        if self.queue == "redis" and not self.redis_url:
            raise ValueError("VITCO_QUEUE=redis needs VITCO_REDIS_URL (the Redis server's URL)")
        return self

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
