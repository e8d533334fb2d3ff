"""One conformance suite for every event bus (in-process, Redis): a wake-up reaches every
listener, from another thread and from another bus on the same server (another process);
a wake-up that came before ``wait`` counts; no wake-up means ``wait`` times out; a closed
listener receives nothing. And the Redis bus against a server that is not there: ``notify``
never raises and listeners keep waiting."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.processes import free_port
from vitco.events import EmbeddedEventBus, EventBus
from vitco.events.redis import RedisEventBus, RedisListener, redis_event_bus

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_pair(channel: str) -> tuple[EventBus, EventBus]:
    """Two buses on one channel of the server, as two processes would have them."""
    return redis_event_bus(REDIS_URL, channel=channel), redis_event_bus(REDIS_URL, channel=channel)


@pytest.fixture(params=["embedded", "redis"])
def buses(request: pytest.FixtureRequest) -> Callable[[], tuple[EventBus, EventBus]]:
    """A maker of (writer's bus, listener's bus): the same bus in-process, two buses of one
    channel over Redis."""
    if request.param == "redis":
        request.getfixturevalue("redis_client")
        channel = f"vitco-test:{uuid.uuid4().hex[:12]}:events"
        return lambda: _redis_pair(channel)
    bus = EmbeddedEventBus()
    return lambda: (bus, bus)


async def _subscribed(listener: Any) -> None:
    if isinstance(listener, RedisListener):
        await asyncio.wait_for(listener.subscribed.wait(), 10)


def test_a_notify_from_another_thread_wakes_every_listener(buses: Any) -> None:
    writer, reader = buses()

    async def main() -> None:
        first, second = await reader.listen(), await reader.listen()
        await _subscribed(first)
        await _subscribed(second)
        before = (first.generation, second.generation)
        waits = [
            asyncio.create_task(first.wait(before[0], 10)),
            asyncio.create_task(second.wait(before[1], 10)),
        ]
        await asyncio.sleep(0.05)
        assert not any(w.done() for w in waits)
        threading.Thread(target=writer.notify).start()
        assert await asyncio.gather(*waits) == [True, True]
        assert first.generation > before[0] and second.generation > before[1]
        await first.aclose()
        await second.aclose()

    asyncio.run(main())


def test_a_wake_up_before_wait_counts_and_none_times_out(buses: Any) -> None:
    writer, reader = buses()

    async def main() -> None:
        listener = await reader.listen()
        await _subscribed(listener)
        generation = listener.generation
        assert await listener.wait(generation, 0.3) is False  # nothing was notified
        writer.notify()
        deadline = asyncio.get_running_loop().time() + 10
        while listener.generation == generation:  # the wake-up arrives while nobody waits
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        assert await listener.wait(generation, 0) is True  # ... and still counts
        await listener.aclose()

    asyncio.run(main())


def test_a_closed_listener_is_not_woken(buses: Any) -> None:
    writer, reader = buses()

    async def main() -> None:
        kept, closed = await reader.listen(), await reader.listen()
        await _subscribed(kept)
        await _subscribed(closed)
        await closed.aclose()
        generation, old = kept.generation, closed.generation
        writer.notify()
        assert await kept.wait(generation, 10) is True
        await asyncio.sleep(0.1)
        assert closed.generation == old
        await kept.aclose()

    asyncio.run(main())


def test_redis_away_notify_never_raises_and_backs_off(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    bus = redis_event_bus(f"redis://127.0.0.1:{free_port()}/0", clock=lambda: now[0])
    assert isinstance(bus, RedisEventBus)
    calls = []
    publish = bus.client.publish

    def counted(*args: Any) -> Any:
        calls.append(args)
        return publish(*args)

    monkeypatch.setattr(bus.client, "publish", counted)
    bus.notify()  # refused: logged, not raised
    bus.notify()  # within retry_s: not even tried
    assert len(calls) == 1
    now[0] += bus.retry_s
    bus.notify()
    assert len(calls) == 2

    async def main() -> None:
        listener = await bus.listen()
        generation = listener.generation
        assert await listener.wait(generation, 0.5) is False  # waits; does not crash
        assert not listener.subscribed.is_set()
        await listener.aclose()

    asyncio.run(main())


def test_two_installations_on_one_redis_do_not_wake_each_other(redis_client: Any) -> None:
    from vitco.config import Settings
    from vitco.events import channel, open_bus

    tag = uuid.uuid4().hex[:12]
    settings = [
        Settings(redis_url=REDIS_URL, queue_prefix=f"vitco-test:{tag}:{name}:")
        for name in ("a", "b")
    ]
    assert channel(settings[0]) == f"vitco-test:{tag}:a:events"
    (a_writer, b_writer), (a_reader, b_reader) = (
        [open_bus(s) for s in settings],
        [open_bus(s) for s in settings],
    )

    async def main() -> None:
        a, b = await a_reader.listen(), await b_reader.listen()
        await _subscribed(a)
        await _subscribed(b)
        seen = (a.generation, b.generation)
        b_writer.notify()  # installation b's worker committed events
        assert await b.wait(seen[1], 10) is True
        assert await a.wait(seen[0], 0.5) is False  # a's readers did not hear it
        a_writer.notify()
        assert await a.wait(seen[0], 10) is True
        await a.aclose()
        await b.aclose()

    asyncio.run(main())
