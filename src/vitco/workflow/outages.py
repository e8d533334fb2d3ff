"""Waiting out a dependency that goes away in the middle of a run (PostgreSQL restarted, a
network blip to the database or to Redis).

A step that loses its database raises (SQLAlchemy's or psycopg's ``OperationalError``,
redis-py's ``ConnectionError``); the run does not end on it. ``invoke`` waits until the
database answers again (``probe``: the store and the checkpoint saver, each a real query),
then runs the graph again from its last checkpoint. What was committed stays; the step that
was cut off runs again, and its side effects are idempotent (``Store.once``, the
``Vitco-Key`` commit trailer, the ledger answering a model call it already paid for), so
nothing is done twice. A run that cannot reach its database for ``wait_s`` raises
``DependencyUnavailable``.

Why by hand: tenacity-style retry wraps one call; here what is retried is "the rest of the
graph from its checkpoint", and the payload to send depends on what the checkpoint holds
(``payload_after``). The time source and the sleep are passed in (tests use a fake clock).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from langgraph.types import Command

from vitco.workflow.exceptions import DependencyUnavailable

logger = logging.getLogger("vitco.workflow")

FIRST_WAIT_S = 0.5
MAX_WAIT_S = 5.0


def _unavailable_types() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = []
    from sqlalchemy.exc import InterfaceError, OperationalError

    found += [OperationalError, InterfaceError]
    try:
        import psycopg

        found += [psycopg.OperationalError, psycopg.InterfaceError]
    except ImportError:  # pragma: no cover - the postgres extra
        pass
    try:
        import psycopg_pool

        found += [psycopg_pool.PoolTimeout]
    except ImportError:  # pragma: no cover - the postgres extra
        pass
    try:
        import redis

        found += [redis.ConnectionError, redis.TimeoutError]
    except ImportError:  # pragma: no cover - the redis extra
        pass
    return tuple(found)


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says a server could not be reached or hung up."""
    types = _unavailable_types()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, types):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def wait_until(
    probe: Callable[[], None],
    *,
    wait_s: float,
    first: BaseException,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Call ``probe`` until it returns, backing off from ``FIRST_WAIT_S`` to ``MAX_WAIT_S``;
    returns the seconds waited. ``DependencyUnavailable`` after ``wait_s`` (or at once on a
    failure that is not an outage)."""
    began = clock()
    pause, last = FIRST_WAIT_S, first
    while True:
        elapsed = clock() - began
        if elapsed >= wait_s:
            raise DependencyUnavailable(type(last).__name__, str(last), wait_s) from last
        sleep(min(pause, wait_s - elapsed))
        pause = min(pause * 2, MAX_WAIT_S)
        try:
            probe()
        except Exception as exc:
            if not unavailable(exc):
                raise
            last = exc
            continue
        return clock() - began


def payload_after(payload: Any, state: Any) -> Any:
    """What to send the graph after an outage: nothing (go on from the last checkpoint)
    unless the checkpoint does not hold the payload yet: no checkpoint at all (the run's
    inputs were never saved) or an approval still pending (the gate's answer was not taken)."""
    if state is None or not getattr(state, "values", None):
        return payload
    if isinstance(payload, Command) and getattr(state, "interrupts", None):
        return payload
    return None


def invoke(
    run: Callable[[Any], Any],
    payload: Any,
    *,
    probe: Callable[[], Any],
    wait_s: float,
    on_outage: Callable[[BaseException], None],
    on_back: Callable[[float], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """``run(payload)``, run again from its checkpoint after each outage (see the module
    docstring); ``probe()`` answers the state of the checkpoint once the servers are back."""
    while True:
        try:
            return run(payload)
        except Exception as exc:
            if not unavailable(exc):
                raise
            logger.warning("a dependency is unavailable (%s); waiting for it", exc)
            on_outage(exc)
            seen: list[Any] = []
            waited = wait_until(
                functools.partial(_append, seen, probe),
                wait_s=wait_s,
                first=exc,
                clock=clock,
                sleep=sleep,
            )
            on_back(waited)
            payload = payload_after(payload, seen[-1])


def _append(into: list[Any], probe: Callable[[], Any]) -> None:
    into.append(probe())
