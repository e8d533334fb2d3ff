"""What only the Redis lease has to survive: Redis losing its data (a restart without
persistence) must not make tokens start again below the ones the store's fence holds."""

from __future__ import annotations

from typing import Any

from vitco.leases.redis import RedisRunLease


def test_tokens_keep_rising_after_redis_loses_its_data(
    redis_client: Any, redis_prefix: str
) -> None:
    leases = RedisRunLease(redis_client, prefix=redis_prefix)
    first = leases.acquire("r-1", "worker-a", 30)
    assert first is not None
    for key in redis_client.scan_iter(match=redis_prefix + "*"):  # as after a restart
        redis_client.delete(key)
    assert leases.inspect("r-1") is None
    second = leases.acquire("r-1", "worker-b", 30)
    assert second is not None and second.token > first.token
