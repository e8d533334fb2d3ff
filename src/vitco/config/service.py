"""Settings of ``vitco serve`` and its clients: the API's limits, the web session, logs, remote
mode, inbound and outbound webhooks, live streams (a part of ``vitco.config.Settings``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings


class Service(BaseSettings):
    """The API, the web pages, logs, webhooks, live streams."""

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
        default="INFO",
        description="vitco serve and vitco worker: the lowest level of vitco's log lines.",
    )
    log_format: Literal["json", "console"] = Field(
        default="json",
        description="vitco serve and vitco worker: log lines as JSON objects (one a line) or "
        "as text.",
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

    @field_validator("deploy_ports")
    @classmethod
    def _port_range(cls, value: tuple[int, int]) -> tuple[int, int]:
        first, last = value
        if not 1024 <= first <= last <= 65535:
            raise ValueError("give two ports, first <= last, between 1024 and 65535")
        return value
