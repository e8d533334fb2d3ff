"""The event bus over Redis pub/sub: every API instance wakes when any process (a worker,
another instance) commits events to the shared PostgreSQL.

Why pub/sub and not a stream: the bus carries wake-ups, not events (``protocol``), so it
needs no history. The events themselves are read from the table, where PostgreSQL's
sequence numbers and the reader's gap handling give the order; an event copied into a
stream could be appended out of order by two writers committing at once, and would be a
second copy to keep consistent with the first. A wake-up lost while a listener reconnects
or Redis restarts costs at most the reader's ``idle_s``.

Failure behaviour (a dependency is hostile too):

- ``notify`` never raises: a run's step must not fail because Redis is away. After a failed
  publish it stays quiet for ``retry_s`` so a dead Redis costs one failed connect per
  ``retry_s``, not one per step.
- a listener reconnects every ``retry_s`` and, once subscribed again, wakes its waiters once
  (whatever was committed meanwhile is in the table).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vitco.events.embedded import _Wakeups

if TYPE_CHECKING:
    import redis
    import redis.asyncio

logger = logging.getLogger("vitco.events")

CHANNEL = "vitco:queue:events"  # the default installation's (``vitco.events.channel``)
RETRY_S = 1.0
POLL_S = 1.0  # how long one read of the subscription waits (and how soon a close is seen)


class RedisListener(_Wakeups):
    """A subscription to the bus's channel, kept up by a task of the running loop."""

    def __init__(self, client: redis.asyncio.Redis, channel: str, retry_s: float) -> None:
        super().__init__()
        self.client, self.channel, self.retry_s = client, channel, retry_s
        self.subscribed = asyncio.Event()  # set while the subscription is up
        self._task = asyncio.create_task(self._listen(), name="vitco-event-bus")

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.client.aclose()

    async def _listen(self) -> None:
        while True:
            try:
                async with self.client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self.subscribed.set()
                    self.bump()  # what was committed while away is in the table: look
                    while True:
                        message = await pubsub.get_message(timeout=POLL_S)
                        if message is not None and message["type"] == "message":
                            self.bump()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # redis.RedisError, OSError: Redis is away
                if self.subscribed.is_set():
                    logger.warning("event bus: lost Redis (%s); reconnecting", exc)
                self.subscribed.clear()
                await asyncio.sleep(self.retry_s)


class RedisEventBus:
    """Wake-ups between processes over one Redis channel.

    ``client`` (a ``redis.Redis``) publishes; ``async_client`` makes the ``redis.asyncio``
    client of each listener (one subscription connection each)."""

    def __init__(
        self,
        client: redis.Redis,
        async_client: Callable[[], redis.asyncio.Redis],
        *,
        channel: str = CHANNEL,
        retry_s: float = RETRY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client, self.async_client = client, async_client
        self.channel, self.retry_s, self.clock = channel, retry_s, clock
        self._quiet_until = 0.0
        self._lock = threading.Lock()

    def notify(self) -> None:
        if self.clock() < self._quiet_until:
            return
        try:
            self.client.publish(self.channel, b"")
        except Exception as exc:  # redis.RedisError, OSError: listeners will poll the table
            with self._lock:
                self._quiet_until = self.clock() + self.retry_s
            logger.warning("event bus: publish failed (%s); listeners fall back to polling", exc)

    async def listen(self) -> RedisListener:
        return RedisListener(self.async_client(), self.channel, self.retry_s)


def redis_event_bus(url: str, **options: Any) -> RedisEventBus:
    """A ``RedisEventBus`` on the server at ``url`` (short timeouts: a wake-up that cannot be
    sent at once is not worth waiting for)."""
    try:
        import redis
        import redis.asyncio
    except ImportError as exc:  # pragma: no cover - the extra is installed in tests
        raise ImportError("VITCO_REDIS_URL needs: pip install 'vitco[redis]'") from exc
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # no retries (redis-py retries for seconds by default): a publish that fails is skipped
    timeouts = {
        "socket_connect_timeout": 2.0,
        "socket_timeout": 2.0,
        "retry": Retry(NoBackoff(), 0),
    }

    def listener_client() -> redis.asyncio.Redis:
        # socket_timeout stays None: the subscription blocks in reads on purpose
        return redis.asyncio.Redis.from_url(
            url, socket_connect_timeout=2.0, health_check_interval=10
        )

    return RedisEventBus(redis.Redis.from_url(url, **timeouts), listener_client, **options)
