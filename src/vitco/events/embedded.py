"""The in-process event bus: writers (a run's threads) wake the listeners of the same
process's event loops. The embedded mode has one process; any other process writing to the
same SQLite file (``vitco run`` next to ``vitco serve``) is seen at the reader's next
``idle_s`` look at the table."""

from __future__ import annotations

import asyncio
import threading


class _Wakeups:
    """A counter and the event that its waiters wait on, touched only in its loop."""

    def __init__(self) -> None:
        self.generation = 0
        self._changed = asyncio.Event()

    def bump(self) -> None:
        self.generation += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait(self, generation: int, timeout: float) -> bool:
        if self.generation > generation:
            return True
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            return self.generation > generation
        return True


class EmbeddedListener(_Wakeups):
    """A listener of an ``EmbeddedEventBus``, bound to one event loop."""

    def __init__(self, bus: EmbeddedEventBus, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.bus, self.loop = bus, loop

    async def aclose(self) -> None:
        self.bus._drop(self)


class EmbeddedEventBus:
    """Wake-ups between the threads and event loops of one process."""

    def __init__(self) -> None:
        self._listeners: set[EmbeddedListener] = set()
        self._lock = threading.Lock()

    def notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener.loop.call_soon_threadsafe(listener.bump)
            except RuntimeError:  # its loop is closed: nobody waits there any more
                self._drop(listener)

    async def listen(self) -> EmbeddedListener:
        listener = EmbeddedListener(self, asyncio.get_running_loop())
        with self._lock:
            self._listeners.add(listener)
        return listener

    def _drop(self, listener: EmbeddedListener) -> None:
        with self._lock:
            self._listeners.discard(listener)
