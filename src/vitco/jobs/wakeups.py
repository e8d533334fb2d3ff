"""How an idle worker hears that another process queued a job or handed one back: a thread
per queue's ``listen`` (``listening``), running the queue's own loop (Redis: a subscription;
PostgreSQL: ``LISTEN``, in ``vitco.jobs.queue``) or, for a SQLite file, ``watch_file``, which
looks at the database's write-ahead log (see ``vitco.jobs.queue``'s docstring). Nothing here is
a guarantee: a worker's poll is."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path


def nothing() -> None:
    """What stops a listener that never started (a queue that cannot tell: its consumers
    poll)."""


WATCH_S = 0.02
"""How often a SQLite queue's listener looks at the database's files: two ``stat`` calls, a
few microseconds, 50 times a second; an idle worker takes a job queued elsewhere within this,
not at its next poll (``vitco worker --poll``, 2 s by default)."""


def watch_file(path: Path, wake: Callable[[], None], stopped: threading.Event) -> None:
    """Call ``wake`` whenever ``path`` or its write-ahead log changed since the last look,
    until ``stopped``."""
    wal = Path(f"{path}-wal")

    def looks() -> tuple[tuple[int, int, int] | None, ...]:
        seen: list[tuple[int, int, int] | None] = []
        for file in (wal, path):
            try:
                st = os.stat(file, follow_symlinks=False)  # looked at, never followed
            except OSError:
                seen.append(None)
            else:
                seen.append((st.st_ino, st.st_size, st.st_mtime_ns))
        return tuple(seen)

    last = looks()
    wake()  # watching from now on: look once for what came before
    while not stopped.wait(WATCH_S):
        now = looks()
        if now != last:
            last = now
            wake()


LISTEN_RETRY_S = 1.0  # a listener whose connection broke listens again after this long


def listening(
    loop: Callable[[Callable[[], None], threading.Event], None], wake: Callable[[], None]
) -> Callable[[], None]:
    """``loop(wake, stopped)`` on a thread of its own (a queue's ``listen``); returns what
    sets ``stopped``."""
    stopped = threading.Event()
    thread = threading.Thread(
        target=loop, args=(wake, stopped), name="vitco-queue-listen", daemon=True
    )
    thread.start()
    return stopped.set
