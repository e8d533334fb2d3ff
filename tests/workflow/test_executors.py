"""LangGraph's invocations borrow their thread pools from ``vitco.workflow.executors``: a pool
serves one invocation at a time, is lent again after it, and idle ones beyond ``KEEP`` are
shut down."""

from __future__ import annotations

import operator
import threading
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.pregel import _executor

from vitco.workflow import executors


@pytest.fixture(autouse=True)
def _no_idle_pools() -> Iterator[None]:
    """Each test starts with no idle pool: the pools other tests of this process left (up to
    ``KEEP``, of other sizes) would otherwise decide whether this test's pool is kept."""
    with executors._lock:
        left = [pool for pools in executors._idle.values() for pool in pools]
        executors._idle.clear()
    for pool in left:
        pool.shutdown(wait=True)
    yield


class Count(TypedDict):
    n: int


class Saves(InMemorySaver):
    """An in-memory saver that notes the thread each save runs in."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[threading.Thread] = []
        self.failing: list[str] = []  # shared by the copies LangGraph may make of the saver

    def put(self, *args: Any, **kwargs: Any) -> Any:
        self.threads.append(threading.current_thread())
        if self.failing:
            raise RuntimeError(self.failing[0])
        return super().put(*args, **kwargs)

    def put_writes(self, *args: Any, **kwargs: Any) -> None:
        self.threads.append(threading.current_thread())
        super().put_writes(*args, **kwargs)


def _graph(saver: InMemorySaver | None = None) -> object:
    builder = StateGraph(Count)
    builder.add_node("one", lambda s: {"n": s["n"] + 1})
    builder.add_node("two", lambda s: {"n": s["n"] + 1})
    builder.add_edge(START, "one")
    builder.add_edge("one", "two")
    builder.add_edge("two", END)
    return builder.compile(checkpointer=saver or InMemorySaver())


class Both(TypedDict):
    n: Annotated[list[str], operator.add]


def _parallel() -> object:
    """Two tasks at once (they run on the pool's threads)."""
    builder = StateGraph(Both)
    builder.add_node("left", lambda s: {"n": ["left"]})
    builder.add_node("right", lambda s: {"n": ["right"]})
    builder.add_edge(START, "left")
    builder.add_edge(START, "right")
    builder.add_edge("left", END)
    builder.add_edge("right", END)
    return builder.compile(checkpointer=InMemorySaver())


def test_invocations_reuse_their_threads() -> None:
    executors.install()
    assert vars(_executor)["get_executor_for_config"] is executors.borrow  # not re-exported
    graph = _parallel()
    config = {"configurable": {"thread_id": "a"}, "max_concurrency": 3}

    def invoke(i: int) -> None:
        config["configurable"] = {"thread_id": f"t{i}"}
        done = graph.invoke({"n": []}, config, durability="sync")  # type: ignore[attr-defined]
        assert sorted(done["n"]) == ["left", "right"]

    for i in range(3):  # a pool grows up to max_concurrency threads as its work asks
        invoke(i)
    lent = list(executors._idle.get(3, []))
    assert lent, "the invocations' pool was not taken back"
    threads = {t for pool in lent for t in pool._threads}
    assert 0 < len(threads) <= 3 * len(lent)
    before = set(threading.enumerate())
    for i in range(3, 10):
        invoke(i)
    # no thread made, none left behind (threads of other tests of this process may end meanwhile:
    # counting them all failed under load)
    assert set(threading.enumerate()) - before == set()
    assert {t for pool in executors._idle.get(3, []) for t in pool._threads} == threads


def test_checkpoint_saves_run_in_the_invoking_thread_and_their_failures_fail_it() -> None:
    """A checkpoint's save and a task's writes are done where LangGraph submits them, not
    handed to a pool thread and waited for (see ``vitco.workflow.executors``)."""
    executors.install()
    saver = Saves()
    graph = _graph(saver)
    config = {"configurable": {"thread_id": "s"}, "max_concurrency": 3}
    assert graph.invoke({"n": 0}, config, durability="sync") == {"n": 2}  # type: ignore[attr-defined]
    assert len(saver.threads) >= 3  # the input's, each step's checkpoint, their writes
    assert set(saver.threads) == {threading.current_thread()}
    assert graph.get_state(config).values == {"n": 2}  # type: ignore[attr-defined]
    saver.failing.append("the disk is full")
    config["configurable"] = {"thread_id": "f"}
    with pytest.raises(RuntimeError, match="the disk is full"):
        graph.invoke({"n": 0}, config, durability="sync")  # type: ignore[attr-defined]


def test_a_pool_serves_one_invocation_at_a_time() -> None:
    config = {"max_concurrency": 2}
    with executors.borrow(config) as outer, executors.borrow(config) as inner:
        assert outer is not inner  # a sub-graph invoked inside gets a pool of its own
        assert outer.submit(lambda: 1).result() == inner.submit(lambda: 2).result() - 1
    again = [executors.borrow(config) for _ in range(2)]
    pools = [cm.__enter__() for cm in again]
    assert {id(p) for p in pools} == {id(outer), id(inner)}  # both lent again
    for cm in again:
        cm.__exit__(None, None, None)


def test_idle_pools_beyond_keep_are_shut_down() -> None:
    config = {"max_concurrency": 5}
    borrowed = [executors.borrow(config) for _ in range(executors.KEEP + 3)]
    pools = [cm.__enter__() for cm in borrowed]
    for pool in pools:
        pool.submit(lambda: None).result()  # each has a thread
    for cm in borrowed:
        cm.__exit__(None, None, None)
    idle = sum(len(p) for p in executors._idle.values())
    assert idle <= executors.KEEP
    shut = [p for p in pools if p._shutdown]
    assert len(shut) >= 3 and all(not t.is_alive() for p in shut for t in p._threads)


def test_a_process_exits_although_nothing_else_tells_an_idle_pools_threads_to_end() -> None:
    """The idle pools kept after an invocation are shut down as the interpreter exits, by
    this module's own hook: here the threads are taken out of what ``concurrent.futures``'
    exit hook would tell to end (as a ``vitco resume`` stopped by Ctrl-C once found them), and
    the process still exits instead of waiting for ever on them."""
    import subprocess
    import sys

    program = """
import concurrent.futures.thread as cf
from tests.workflow.test_executors import _graph
from vitco.workflow import executors

executors.install()
graph = _graph()
config = {"configurable": {"thread_id": "t"}, "max_concurrency": 2}
assert graph.invoke({"n": 0}, config, durability="sync") == {"n": 2}
assert executors._idle, "no pool kept idle"
for pool in (p for pools in executors._idle.values() for p in pools):
    for thread in pool._threads:
        cf._threads_queues.pop(thread, None)
print("invoked", flush=True)
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "invoked\n"
