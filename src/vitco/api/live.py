"""Live events: one reader per process tails the event feed and fans every event out to the
subscriptions it matches (the WebSocket and Server-Sent Events clients of ``/v1/events``).

What a subscription (``Live.stream(topic, since)``) is promised:

- **its tenant's events only**: a ``Topic`` always names a tenant (the key's); project and run
  narrow it, and the route has checked they are the tenant's before subscribing;
- **in order, each once**: events come in ``seq`` order (the number ``GET
  /v1/runs/{id}/events`` answers) and a number is never delivered twice;
- **nothing lost across a reconnect**: ``since=SEQ`` first reads from the store what the
  topic had after ``SEQ`` up to the reader's horizon (the last number it has fanned out), then
  the live events after that horizon. Joining the fan-out and taking the horizon happen with
  no ``await`` between them, so no event falls between the two reads.

The reader delivers the feed as a contiguous sequence (``vitco.store.feed.InOrder``): a gap in
the numbers holds it back until it fills or ``gap_s`` passes.

The reader runs while someone listens, one query per look whatever the number of clients.
With an event bus (``vitco.events``: in-process, or Redis pub/sub across processes) it looks
when a writer anywhere says it committed events, and at the latest after ``idle_s`` (a lost
wake-up costs latency, never an event: the table is the source of truth); while a gap holds it
back, every ``poll_s``. Without a bus it looks every ``poll_s``. Each event is encoded to JSON
once, however many clients receive it. A client that
does not keep up (``buffer`` events waiting) is dropped with ``Lagging`` carrying the last
number it got; it reconnects with ``since`` and loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field

from vitco.api.exceptions import Lagging
from vitco.api.schemas import LiveEvent
from vitco.events.protocol import EventBus, EventListener
from vitco.store.feed import GAP_S, EventFeed, FeedEvent, InOrder

logger = logging.getLogger("vitco.api.live")

POLL_S = 0.05  # how often the reader asks for new events (with no bus, or held by a gap)
IDLE_S = 1.0  # with a bus: the longest the reader waits for a wake-up before it asks anyway
BATCH = 500  # events the reader reads at once
BUFFER = 2000  # events a client may have waiting before it is dropped


@dataclass(frozen=True)
class Topic:
    """What a subscription receives: a tenant's events, or one project's or one run's."""

    tenant_id: str
    project_id: str | None = None
    run_id: str | None = None

    def matches(self, event: FeedEvent) -> bool:
        return (
            event.tenant_id == self.tenant_id
            and (self.project_id is None or event.project_id == self.project_id)
            and (self.run_id is None or event.run_id == self.run_id)
        )


@dataclass(frozen=True)
class Delivery:
    """An event on its way to clients, with its JSON text (a ``LiveEvent``)."""

    seq: int
    json: str


def live_event(event: FeedEvent) -> LiveEvent:
    return LiveEvent(
        seq=event.seq,
        project_id=event.project_id,
        run_id=event.run_id,
        ts=event.ts,
        kind=event.kind,
        step=event.step,
        task=event.task,
        message=event.message,
        data=event.data,
    )


def encode(event: FeedEvent) -> str:
    return live_event(event).model_dump_json()


@dataclass(eq=False)
class _Subscription:
    topic: Topic
    queue: asyncio.Queue[Delivery | None] = field(default_factory=asyncio.Queue)


class Live:
    """The fan-out of one process (see the module docstring)."""

    def __init__(
        self,
        feed: EventFeed,
        *,
        bus: EventBus | None = None,
        poll_s: float = POLL_S,
        idle_s: float = IDLE_S,
        gap_s: float = GAP_S,
        batch: int = BATCH,
        buffer: int = BUFFER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.feed, self.bus = feed, bus
        self.poll_s, self.idle_s = poll_s, idle_s
        self.gap_s, self.batch, self.buffer = gap_s, batch, buffer
        self.order = InOrder(gap_s=gap_s, clock=clock)  # the horizon: fanned out up to seen
        self._subscriptions: set[_Subscription] = set()
        self._reader: asyncio.Task[None] | None = None
        self._listener: EventListener | None = None
        self._starting = asyncio.Lock()

    @property
    def seen(self) -> int:
        """The horizon: every event up to it has been fanned out."""
        return self.order.seen

    @property
    def listeners(self) -> int:
        return len(self._subscriptions)

    async def stream(
        self, topic: Topic, since: int = 0, *, idle: float | None = None
    ) -> AsyncGenerator[Delivery | None]:
        """The topic's events after ``since``, in order, until the caller stops iterating;
        ``None`` after ``idle`` seconds without one (a stream's keep-alive); raises
        ``Lagging`` if the caller falls ``buffer`` events behind."""
        subscription = _Subscription(topic)
        horizon = await self._join(subscription)
        last = since
        try:
            while last < horizon:  # what was missed, read from the store
                rows = await asyncio.to_thread(
                    self.feed.scoped,
                    topic.tenant_id,
                    project_id=topic.project_id,
                    run_id=topic.run_id,
                    since=last,
                    upto=horizon,
                    limit=self.batch,
                )
                for row in rows:
                    yield Delivery(row.seq, encode(row))
                    last = row.seq
                if len(rows) < self.batch:
                    break
            while True:  # then what the reader fans out after the horizon
                try:
                    delivery = await asyncio.wait_for(subscription.queue.get(), idle)
                except TimeoutError:
                    yield None
                    continue
                if delivery is None:
                    raise Lagging(last)
                if delivery.seq > last:
                    yield delivery
                    last = delivery.seq
        finally:
            self._subscriptions.discard(subscription)

    async def aclose(self) -> None:
        """Stop the reader; every subscription ends as if it lagged (its client resumes)."""
        for subscription in list(self._subscriptions):
            self._drop(subscription)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._listener is not None:
            await self._listener.aclose()
            self._listener = None

    async def _join(self, subscription: _Subscription) -> int:
        async with self._starting:
            if self.bus is not None and self._listener is None:
                self._listener = await self.bus.listen()  # before the horizon is read
            if self._reader is None or self._reader.done():
                self.order.restart(await asyncio.to_thread(self.feed.head))
                self._reader = asyncio.create_task(self._read(), name="vitco-live-reader")
            self._subscriptions.add(subscription)
            return self.seen

    async def _read(self) -> None:
        while self._subscriptions:
            listener = self._listener
            generation = listener.generation if listener is not None else 0
            try:
                rows = await asyncio.to_thread(self.feed.after, self.seen, self.batch)
            except Exception:  # the database is away for a moment: listeners wait, not end
                logger.warning("reading the event feed failed; retrying", exc_info=True)
                await asyncio.sleep(max(self.poll_s, 1.0))
                continue
            taken = self.publish(rows)
            if taken == self.batch:
                continue  # more is waiting
            if listener is None or taken < len(rows):  # no bus, or a gap holds us back
                await asyncio.sleep(self.poll_s)
            else:  # until a writer says it committed (a wake-up since the read counts)
                await listener.wait(generation, self.idle_s)

    def publish(self, rows: list[FeedEvent]) -> int:
        """Fan out ``rows`` (the feed after ``seen``, in order) as far as they are contiguous
        or their gap has expired; returns how many were taken."""
        taken = 0
        for row in rows:
            if not self.order.take(row.seq):
                break
            taken += 1
            delivery: Delivery | None = None
            for subscription in list(self._subscriptions):
                if not subscription.topic.matches(row):
                    continue
                if subscription.queue.qsize() >= self.buffer:
                    self._drop(subscription)
                    continue
                delivery = delivery or Delivery(row.seq, encode(row))
                subscription.queue.put_nowait(delivery)
        return taken

    def _drop(self, subscription: _Subscription) -> None:
        self._subscriptions.discard(subscription)
        subscription.queue.put_nowait(None)
