"""What an event bus is: a wake-up between the processes that write events and the ones that
stream them (``vitco.api.live``).

The events table is the source of truth: every event has its sequence number there, and a
reader of the feed (``vitco.store.feed``) finds what is new, in order, by asking it. A bus
only says *when* to ask: a writer calls ``notify()`` after it commits events, and every
listener of every process wakes. A wake-up carries no data, so a lost one (a listener that
was reconnecting, a Redis restart) costs latency, never an event: the reader still asks the
table after ``idle_s`` without one.
"""

from __future__ import annotations

from typing import Protocol


class EventListener(Protocol):
    """One process's end of the bus: a counter of the wake-ups it has received."""

    @property
    def generation(self) -> int:
        """How many wake-ups arrived so far (read it before asking the table)."""
        ...

    async def wait(self, generation: int, timeout: float) -> bool:
        """Return True as soon as ``generation`` is passed (at once if it already is), False
        after ``timeout`` seconds without a wake-up."""
        ...

    async def aclose(self) -> None:
        """Stop listening."""
        ...


class EventBus(Protocol):
    """Wake-ups of the event feed, from writers to listeners (see the module docstring)."""

    def notify(self) -> None:
        """Say that events were committed; from any thread, never raises, never blocks long."""
        ...

    async def listen(self) -> EventListener:
        """A listener bound to the running event loop; it receives every ``notify`` made
        after this returns."""
        ...
