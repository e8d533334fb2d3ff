"""The lease backend the settings choose, and what metrics read from it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vitco.leases.exceptions import LeaseBackendMissing
from vitco.leases.protocol import LeaseStats, RunLease

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from vitco.config import Settings


def open_leases(settings: Settings, engine: Engine, redis: Any = None) -> RunLease:
    """The store's database (``engine``) by default; Redis when ``lease_backend`` is
    ``"redis"`` (``redis``: the client to use, else one for ``redis_url``)."""
    if settings.lease_backend == "redis":
        if redis is None:
            if not settings.redis_url:
                raise LeaseBackendMissing(
                    "redis", "set VITCO_REDIS_URL, or VITCO_LEASE_BACKEND=database"
                )
            import redis as redis_py

            redis = redis_py.Redis.from_url(settings.redis_url)
        from vitco.leases.redis import RedisRunLease

        return RedisRunLease(redis, prefix=settings.lease_prefix)
    from vitco.leases.sql import SqlRunLease

    return SqlRunLease(engine)


def lease_stats(leases: RunLease) -> LeaseStats:
    """The number of live leases and the age of the oldest (seconds, on the lease server's
    clock): runs in progress and how long the longest has been going, for gauges."""
    return leases.stats()
