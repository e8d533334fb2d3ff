"""The checkpoint savers, one conformance test on both backends (SQLite in the data dir,
PostgreSQL in the database): what a graph checkpoints survives the saver being closed and
opened again, a paused thread resumes where it stood, threads do not see each other's state,
and runs of many threads at once through one saver (a process's runs share it) each end
right. Then the SQLite savers' pool: one saver per file and process, a file removed and made
again is a new one, and idle savers beyond the pool's size are closed."""

from __future__ import annotations

import operator
import os
import threading
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from vitco.config import Settings
from vitco.workflow import checkpoints
from vitco.workflow.checkpoints import open_checkpointer


class State(TypedDict):
    steps: Annotated[list[str], operator.add]
    answer: str


def _graph(saver: Any, *, gate: bool) -> Any:
    def first(state: State) -> dict[str, Any]:
        return {"steps": ["first"]}

    def second(state: State) -> dict[str, Any]:
        answer = interrupt("go on?") if gate else "no gate"
        return {"steps": ["second"], "answer": answer}

    builder = StateGraph(State)
    builder.add_node("first", first)
    builder.add_node("second", second)
    builder.add_edge(START, "first")
    builder.add_edge("first", "second")
    builder.add_edge("second", END)
    return builder.compile(checkpointer=saver)


def _config(thread: str) -> Any:
    return {"configurable": {"thread_id": thread}}


def test_checkpoints_last_resume_and_stay_apart_on_both_backends(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home", database_url=database_url)
    with open_checkpointer(settings) as saver:
        paused = _graph(saver, gate=True).invoke({"steps": []}, _config("t-1"), durability="sync")
        assert "__interrupt__" in paused and paused["steps"] == ["first"]
        done = _graph(saver, gate=False).invoke({"steps": []}, _config("t-2"), durability="sync")
        assert done == {"steps": ["first", "second"], "answer": "no gate"}

    with open_checkpointer(settings) as saver:  # closed and opened again: nothing lost
        graph = _graph(saver, gate=True)
        state = graph.get_state(_config("t-1"))
        assert state.next == ("second",) and state.values["steps"] == ["first"]
        history = list(graph.get_state_history(_config("t-1")))
        assert len(history) >= 3  # input, after first, the pause before second
        final = graph.invoke(Command(resume="yes"), _config("t-1"), durability="sync")
        assert final == {"steps": ["first", "second"], "answer": "yes"}
        assert graph.get_state(_config("t-2")).values["answer"] == "no gate"  # apart
        assert graph.get_state(_config("t-unknown")).values == {}


def test_many_threads_through_one_saver_each_end_right(database_url: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", database_url=database_url)
    errors: list[BaseException] = []
    results: dict[str, Any] = {}

    def run(thread: str) -> None:
        try:
            with open_checkpointer(settings) as saver:
                graph = _graph(saver, gate=True)
                graph.invoke({"steps": []}, _config(thread), durability="sync")
                results[thread] = graph.invoke(
                    Command(resume=thread), _config(thread), durability="sync"
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"t-{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert results == {
        f"t-{i}": {"steps": ["first", "second"], "answer": f"t-{i}"} for i in range(8)
    }


def test_sqlite_savers_are_one_per_file_and_idle_ones_are_closed(tmp_path: Path) -> None:
    pool = checkpoints._SaverPool(keep=2)
    path = tmp_path / "a.sqlite"
    with pool.borrow(path) as one, pool.borrow(path) as again:
        assert one is again  # one saver per file: its setup and connection are paid once
        _graph(one, gate=False).invoke({"steps": []}, _config("t"), durability="sync")

    for suffix in ("", "-wal", "-shm"):  # the file removed and made again is another one
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with pool.borrow(path) as fresh:
        assert fresh is not one
        assert _graph(fresh, gate=False).get_state(_config("t")).values == {}

    others = [tmp_path / f"{i}.sqlite" for i in range(5)]
    with pool.borrow(others[0]) as held:  # in use: never closed under its borrower
        for other in others[1:]:
            with pool.borrow(other) as saver:
                _graph(saver, gate=False).invoke({"steps": []}, _config("t"), durability="sync")
        assert len(pool._open) <= pool.keep + 1
        done = _graph(held, gate=False).invoke({"steps": []}, _config("t"), durability="sync")
        assert done["answer"] == "no gate"
    assert len(pool._open) <= pool.keep
    assert all(os.path.exists(other) for other in others)
