"""The Redis queue is Redis Cluster-safe: every key one queue writes (jobs, tenants' queues,
leases, enqueue keys, run sets, counters) carries the queue's hash tag and so falls in one
cluster slot, the slot of the one key each script declares; another installation's queue has
another tag. Checked on the keys a real server holds after every kind of call."""

from __future__ import annotations

import time
from typing import Any

from redis.crc import key_slot

from vitco.jobs.redis_queue import RedisRunQueue, hash_tagged


def test_every_key_of_a_queue_is_in_the_slot_of_its_declared_key(
    redis_client: Any, redis_prefix: str
) -> None:
    queue = RedisRunQueue(redis_client, prefix=redis_prefix + "queue:")
    first = queue.enqueue("r-one", "start", tenant="acme", key="hook:1")
    queue.enqueue("r-two", "resume", {"x": 1}, tenant="other", priority=100)
    queue.enqueue("r-three", "start", tenant="acme")
    taken = [queue.take("w", 0.2) for _ in range(2)]
    assert all(taken)
    time.sleep(0.3)  # one lease runs out and is taken over
    again = queue.take("w", 30)
    assert again is not None
    queue.finish(again)
    queue.cancel("r-one")
    assert queue.enqueue("r-one", "start", tenant="acme", key="hook:1") == first
    queue.stats()

    keys = [k.decode() for k in redis_client.scan_iter(match=redis_prefix + "*")]
    assert len(keys) > 8  # jobs, queues, tenants, leases, keys, runs, counters
    base = hash_tagged(redis_prefix + "queue:")
    assert all(k.startswith(base) for k in keys), keys
    assert {key_slot(k.encode()) for k in keys} == {key_slot(base.encode())}
    other = hash_tagged(redis_prefix + "other-queue:")  # another installation: another tag
    assert other.split("{")[1] != base.split("{")[1]
