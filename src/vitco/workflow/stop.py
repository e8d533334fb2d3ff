"""Stopping a run cleanly: one run on request (a cancel), or every run of the process on
Ctrl-C, SIGTERM (``timeout``, systemd, Kubernetes) and SIGHUP.

Each execution of a run has a ``StopToken`` (``scope()``), carried in a context variable: the
steps LangGraph runs on its thread pool copy the context, so ``check()`` and ``requested()`` in
any step read *their* run's token, and the sandboxed commands a step starts join the token's
process group (``vitco.sandbox._process.Group``). ``StopToken.request()`` stops that run alone:
its sandboxed commands are killed (so the step waiting on one returns at once) and each of its
steps still running gives up instead of recording what it was doing (``RunInterrupted``: a
test run cut short must not count as a failed attempt); the runner turns that into the
resumable status ``interrupted``. A process running several runs at once (a worker with
``--concurrency``) cancels one without touching the others.

``StopToken.drain()`` is the gentle stop of a worker shutting down: the steps running now
finish and are recorded, the next step does not start (``check_boundary``).

``request_all()`` stops every run of the process: the signal handler of ``signals()`` calls it,
then the main thread gets ``KeyboardInterrupt``. What was finished stays finished: answered
model calls are in the ledger, steps are checkpointed, so ``vitco resume RUN`` continues
without repeating them. A second signal while stopping ends the process at once (exit status
130).

Signal handlers can only be installed from the main thread; elsewhere (a service running runs
on threads) ``signals()`` does nothing and the caller stops runs its own way.
"""

from __future__ import annotations

import contextvars
import os
import signal
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from vitco.sandbox._process import Group, grouped

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class RunInterrupted(BaseException):
    """A step noticed that the run is stopping; not an ``Exception``, so no step's own error
    handling can swallow it."""


class StopToken:
    """The stop switch of one execution of a run (see the module docstring)."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.reason = ""
        self._event = threading.Event()
        self._draining = threading.Event()
        self.processes = Group()

    def request(self, reason: str = "") -> None:
        """Ask this run's steps to stop, and kill the sandboxed commands they wait on."""
        if not self._event.is_set():
            self.reason = reason
        self._event.set()
        self.processes.kill()

    def drain(self, reason: str = "") -> None:
        """Ask this run to stop at its next step boundary: the steps running now finish
        (their sandboxed commands are not killed), no further step starts. A worker shutting
        down gracefully does this, then hands the run's job back."""
        if not self._draining.is_set() and not self._event.is_set():
            self.reason = reason
        self._draining.set()

    def draining(self) -> bool:
        return self._draining.is_set() or self._event.is_set()

    def requested(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a stop is requested (or ``timeout``); whether it was."""
        return self._event.wait(timeout)

    def check(self) -> None:
        """Raise ``RunInterrupted`` if a stop was requested."""
        if self._event.is_set():
            raise RunInterrupted(self.reason)

    def __repr__(self) -> str:
        return f"StopToken({self.name!r}, requested={self.requested()})"


_current: contextvars.ContextVar[StopToken | None] = contextvars.ContextVar(
    "vitco_stop", default=None
)
_tokens: weakref.WeakSet[StopToken] = weakref.WeakSet()
_tokens_lock = threading.Lock()
_signalled = threading.Event()


def current() -> StopToken | None:
    """The token of the run this code executes for, if any."""
    return _current.get()


@contextmanager
def scope(token: StopToken | None = None, *, name: str = "") -> Iterator[StopToken]:
    """Run the block under ``token`` (a new one if None). Inside an enclosing scope and
    without ``token``, the enclosing token is reused: a worker opens the scope before it
    calls the runner (so a cancel that arrives while the run is being set up is not lost),
    and the runner's own ``scope()`` joins it."""
    if token is None:
        enclosing = _current.get()
        if enclosing is not None:
            yield enclosing
            return
        token = StopToken(name)
    with _tokens_lock:
        _tokens.add(token)
    reset = _current.set(token)
    try:
        with grouped(token.processes):
            yield token
    finally:
        _current.reset(reset)
        with _tokens_lock:
            _tokens.discard(token)


def requested() -> bool:
    """Whether the current run was asked to stop (False outside any run)."""
    token = _current.get()
    return token is not None and token.requested()


def check() -> None:
    """Raise ``RunInterrupted`` if the current run was asked to stop."""
    token = _current.get()
    if token is not None:
        token.check()


def check_boundary() -> None:
    """At a step boundary: raise ``RunInterrupted`` if the current run was asked to stop or
    to stop at its next step (``StopToken.drain``)."""
    token = _current.get()
    if token is not None and token.draining():
        raise RunInterrupted(token.reason)


def request_all(reason: str = "") -> int:
    """Stop every run of this process (Ctrl-C, SIGTERM); returns how many were running."""
    with _tokens_lock:
        tokens = list(_tokens)
    for token in tokens:
        token.request(reason)
    return len(tokens)


@contextmanager
def signals() -> Iterator[None]:
    """While the block runs, the stop signals stop every run (see the module docstring)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _signalled.clear()

    def handle(signum: int, frame: FrameType | None) -> None:
        if _signalled.is_set():
            os._exit(128 + signum)  # a second signal: stop now
        _signalled.set()
        request_all(signal.Signals(signum).name)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
