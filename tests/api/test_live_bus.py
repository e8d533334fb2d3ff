"""The live reader woken by an event bus: with an hour between its own looks at the table, a
subscriber still gets each event as soon as a store with the bus (in this process, or a
store of another process over Redis) commits it; an event committed by a writer without the
bus waits for the reader's next look, and is not lost."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from vitco.api.live import Live, Topic
from vitco.events import EmbeddedEventBus, EventBus
from vitco.events.redis import redis_event_bus
from vitco.store import Store, open_database
from vitco.store.feed import EventFeed

HOUR = 3600.0


@pytest.fixture(params=["embedded", "redis"])
def buses(request: pytest.FixtureRequest) -> tuple[EventBus, EventBus]:
    """(the writer's bus, the reader's bus)."""
    if request.param == "redis":
        request.getfixturevalue("redis_client")
        channel = f"vitco-test:{uuid.uuid4().hex[:12]}:events"
        url = "redis://127.0.0.1:6379/0"
        return redis_event_bus(url, channel=channel), redis_event_bus(url, channel=channel)
    bus = EmbeddedEventBus()
    return bus, bus


def test_a_woken_reader_delivers_at_once_and_a_silent_write_waits_for_its_look(
    buses: tuple[EventBus, EventBus], tmp_path: Path
) -> None:
    writer_bus, reader_bus = buses
    sessions = open_database(f"sqlite:///{tmp_path / 'v.sqlite'}")
    store, silent = Store(sessions, bus=writer_bus), Store(sessions)
    project = store.create_project("p", "/p")
    run = store.create_run(project.id, store.create_brief(project.id, "b", "b").id, "m", "d")
    live = Live(EventFeed(sessions), bus=reader_bus, poll_s=HOUR, idle_s=HOUR)

    async def main() -> None:
        stream = live.stream(Topic("default"))
        first = asyncio.create_task(anext(stream))
        while live.listeners == 0:
            await asyncio.sleep(0.01)
        listener = live._listener
        subscribed = getattr(listener, "subscribed", None)
        if subscribed is not None:
            await asyncio.wait_for(subscribed.wait(), 10)
        for i in range(2):  # each woken at once: the reader's own look is an hour away
            seq = store.add_event(run.id, "step", f"e{i}").id
            delivery = await asyncio.wait_for(first if i == 0 else anext(stream), 10)
            assert delivery is not None and delivery.seq == seq and f'"e{i}"' in delivery.json
        with store.step():  # a step's events are written (and announced) when it ends
            store.add_event(run.id, "step", "in-step")
        delivery = await asyncio.wait_for(anext(stream), 10)
        assert delivery is not None and delivery.seq == seq + 1 and '"in-step"' in delivery.json
        quiet = silent.add_event(run.id, "step", "unannounced").id  # nobody says so...
        woke = store.add_event(run.id, "step", "announced").id
        got = await asyncio.wait_for(anext(stream), 10)
        assert got is not None and got.seq == quiet  # ... the next look brings it, first
        after = await asyncio.wait_for(anext(stream), 10)
        assert after is not None and after.seq == woke
        await stream.aclose()
        await live.aclose()

    asyncio.run(main())
