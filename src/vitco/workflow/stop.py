"""Stopping a run cleanly: Ctrl-C, SIGTERM (``timeout``, systemd, Kubernetes) and SIGHUP.

The first signal asks the run to stop: every sandboxed command is killed (so the step waiting
on it returns at once), each step that is still running gives up instead of recording what it
was doing (``RunInterrupted``: a test run cut short must not count as a failed attempt), and
the main thread gets ``KeyboardInterrupt``, which the runner turns into the resumable status
``interrupted``. What was finished stays finished: answered model calls are in the ledger,
steps are checkpointed, so ``vitco resume RUN`` continues without repeating them. A second
signal while stopping ends the process at once (exit status 130).

Signal handlers can only be installed from the main thread; elsewhere (a service running runs
on threads) ``signals()`` does nothing and the caller stops runs its own way (``request``).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_requested = threading.Event()


class RunInterrupted(BaseException):
    """A step noticed that the run is stopping; not an ``Exception``, so no step's own error
    handling can swallow it."""


def request() -> None:
    """Ask every running step to stop, and kill the sandboxed commands they wait on."""
    from vitco.sandbox._process import stop_all

    _requested.set()
    stop_all()


def clear() -> None:
    """Forget a stop request: a service's worker does before and after each run it executes,
    so a run cancelled on request does not stop the next one."""
    _requested.clear()


def requested() -> bool:
    return _requested.is_set()


def check() -> None:
    """Raise ``RunInterrupted`` if a stop was requested."""
    if _requested.is_set():
        raise RunInterrupted()


@contextmanager
def signals() -> Iterator[None]:
    """While the block runs, the stop signals stop the run (see the module docstring)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _requested.clear()

    def handle(signum: int, frame: FrameType | None) -> None:
        if _requested.is_set():
            os._exit(128 + signum)  # a second signal: stop now
        request()
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
