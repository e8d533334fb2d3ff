"""The live reader's order on PostgreSQL, where ids are handed out at insert and two writers
can commit out of order: a gap holds the reader back until it fills, or until ``gap_s`` has
passed for a transaction that rolled back; a subscriber never gets a number twice or late."""

from __future__ import annotations

import asyncio

from vitco.api.live import Delivery, Live, Topic
from vitco.store import Store, open_database
from vitco.store.feed import EventFeed
from vitco.store.models import Event, utcnow


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _joined(live: Live, first: asyncio.Task[Delivery | None]) -> None:
    while live.listeners == 0:
        assert not first.done()
        await asyncio.sleep(0.01)


def _live(url: str, clock: Clock) -> tuple[Store, Live, str]:
    sessions = open_database(url)
    store = Store(sessions)
    project = store.create_project("p", "/p")
    brief = store.create_brief(project.id, "b.md", "# b")
    run = store.create_run(project.id, brief.id, "m", "deliver-project")
    return store, Live(EventFeed(sessions), poll_s=0.01, gap_s=5.0, clock=clock), run.id


def test_an_event_committed_late_is_delivered_before_the_ones_after_it(
    postgres_url: str,
) -> None:
    store, live, run = _live(postgres_url, Clock())

    async def main() -> list[int]:
        stream = live.stream(Topic("default"))
        first = asyncio.create_task(anext(stream))
        await _joined(live, first)
        with store.sessions() as slow:  # takes its number, commits later
            early = Event(run_id=run, ts=utcnow(), kind="step", message="slow")
            slow.add(early)
            slow.flush()
            later = store.add_event(run, "step", "fast").id  # committed at once
            assert later > early.id
            await asyncio.sleep(0.3)  # many reads of the feed: the gap holds them back
            assert not first.done()
            slow.commit()
            got = [await asyncio.wait_for(first, 10), await asyncio.wait_for(anext(stream), 10)]
        await stream.aclose()
        assert all(d is not None for d in got)
        assert [d.seq for d in got if d is not None] == [early.id, later]
        return [early.id, later]

    asyncio.run(main())


def test_a_rolled_back_number_is_passed_once_its_gap_expires(postgres_url: str) -> None:
    clock = Clock()
    store, live, run = _live(postgres_url, clock)

    async def main() -> None:
        stream = live.stream(Topic("default"))
        first = asyncio.create_task(anext(stream))
        await _joined(live, first)
        with store.sessions() as lost:
            lost.add(Event(run_id=run, ts=utcnow(), kind="step", message="lost"))
            lost.flush()
            after = store.add_event(run, "step", "kept").id
            lost.rollback()
        await asyncio.sleep(0.3)
        assert not first.done()  # still waiting for the number that rolled back
        clock.now += live.gap_s
        delivery = await asyncio.wait_for(first, 10)
        assert delivery is not None and delivery.seq == after
        await stream.aclose()

    asyncio.run(main())
