"""Settings of where state lives and how processes share work: the database, Redis, the run
queue, workers and run leases (a part of ``vitco.config.Settings``)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings


class Backends(BaseSettings):
    """Database, Redis, queue, workers, leases."""

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

    @model_validator(mode="after")
    def _queue_needs_redis(self) -> Self:
        if self.queue == "redis" and not self.redis_url:
            raise ValueError("VITCO_QUEUE=redis needs VITCO_REDIS_URL (the Redis server's URL)")
        return self
