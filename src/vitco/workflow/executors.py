"""The threads LangGraph runs a graph's background work on, kept from one invocation to the
next.

LangGraph makes a thread pool for every ``invoke`` (``BackgroundExecutor`` enters
``langchain_core``'s ``get_executor_for_config``) and shuts it down at the end, and it has no
setting to hand it one: a run of one trivial step started 3-4 threads and joined them, about a
third of what LangGraph itself cost per run here. ``install`` replaces the function the
executor is made with, in LangGraph's module only, by one that lends an idle pool of the
same size (``max_concurrency``) and takes it back when the invocation ends. Each invocation
still has a pool of its own while it runs (a sub-graph invoked from a pool thread borrows
another one), so nothing waits on another run's work and nested graphs cannot starve each
other; a pool is only lent again after LangGraph waited for every task it submitted. At most
``KEEP`` idle pools are kept; one more is shut down as LangGraph's own would be.

A pool runs the checkpoint saves LangGraph submits to it (a checkpoint, after the one before
it; a task's writes: the saver's ``put_writes``) in the thread that submits them, done when
``submit`` returns, instead of handing each to a pool thread and back: a trivial run submitted
five and waited for each (``durability="sync"``), a queue, a thread's wake-up and the GIL
passed twice, for a save of ~0.1 ms. Durability is the same or stronger: each save is
committed before the invocation goes on, as ``"sync"`` already waited for a step's checkpoint
before the next step; tasks still run on the pool's threads. A save that fails fails its
future, as on a pool thread (LangGraph raises it where it waits for it); what interrupts the
submitting thread (Ctrl-C) interrupts it there. LangGraph has no setting for it: only
``durability`` (``"exit"`` writes nothing until the end; ``"async"`` and ``"sync"`` both submit).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from langchain_core.runnables.config import ContextThreadPoolExecutor
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.pregel._loop import SyncPregelLoop

KEEP = 8
"""Idle pools kept: as many runs as a worker executes at once, plus their sub-graphs."""


def _is_save(fn: object) -> bool:
    """Whether ``fn`` is a checkpoint save LangGraph submits (see the module docstring)."""
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, BaseCheckpointSaver):
        return getattr(fn, "__name__", None) == "put_writes"
    put = getattr(SyncPregelLoop, "_checkpointer_put_after_previous", None)
    return isinstance(owner, SyncPregelLoop) and getattr(fn, "__func__", None) is put


class _Pool(ContextThreadPoolExecutor):
    """A pool that runs checkpoint saves where they are submitted (see the module docstring)."""

    def submit(  # type: ignore[override]
        self, func: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Future[Any]:
        # LangGraph submits ``(context.run, fn, *args)``: ``fn`` is the save
        if not (args and _is_save(args[0])):
            return super().submit(func, *args, **kwargs)
        done: Future[Any] = Future()
        try:
            result = func(*args, **kwargs)
        except Exception as exc:  # as a pool thread's work: the future fails
            done.set_exception(exc)
        else:
            done.set_result(result)
        return done


_idle: dict[int | None, list[ContextThreadPoolExecutor]] = {}
_lock = threading.Lock()
_installed = False


@contextmanager
def borrow(config: Any) -> Iterator[ContextThreadPoolExecutor]:
    """A pool of ``config``'s ``max_concurrency`` threads for one invocation (see the module
    docstring): an idle one, or a new one."""
    workers: int | None = (config or {}).get("max_concurrency")
    with _lock:
        pools = _idle.get(workers)
        pool = pools.pop() if pools else None
    if pool is None:
        pool = _Pool(max_workers=workers, thread_name_prefix="vitco-graph")
    try:
        yield pool
    finally:
        with _lock:
            kept = sum(len(p) for p in _idle.values()) < KEEP
            if kept:
                _idle.setdefault(workers, []).append(pool)
        if not kept:
            pool.shutdown(wait=True)


def close_idle() -> None:
    """Shut the idle pools down (their threads end once told; nothing waits for them)."""
    with _lock:
        left = [pool for pools in _idle.values() for pool in pools]
        _idle.clear()
    for pool in left:
        pool.shutdown(wait=False)


def install() -> None:
    """Make LangGraph's graphs borrow their pools here (once per process).

    The idle pools are shut down as the interpreter begins to exit, before it waits for the
    threads that are not daemons (``threading``'s own exit hooks, where
    ``concurrent.futures`` tells its pools' threads to end): a ``vitco resume`` stopped by
    Ctrl-C was once seen waiting for ever on an idle pool's thread that nothing had told to
    end, at the very end of its exit."""
    global _installed
    with _lock:
        if _installed:
            return
        from langgraph.pregel import _executor

        _executor.get_executor_for_config = borrow  # type: ignore[attr-defined]
        threading._register_atexit(close_idle)  # type: ignore[attr-defined]
        _installed = True
