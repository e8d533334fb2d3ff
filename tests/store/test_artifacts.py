"""Artifacts and step executions on real SQLite and PostgreSQL: a step run again (its writes
committed, its checkpoint not) reads the run as it was before it, and leaves one copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitco.store import Store, open_database
from vitco.store.exceptions import FenceRefused


@pytest.fixture
def store(database_url: str) -> Store:
    return Store(open_database(database_url))


@pytest.fixture
def run_id(store: Store, tmp_path: Path) -> str:
    project = store.create_project("todo", str(tmp_path / "repo"), client="Ada <ada@example.com>")
    brief = store.create_brief(project.id, "cli", "A todo API.")
    return store.create_run(project.id, brief.id, "test", "deliver-project").id


def _changesets(store: Store, run_id: str) -> list[tuple[str | None, object]]:
    return [(a.task, a.content["files"]) for a in store.artifacts(run_id, "changeset")]


def test_a_step_run_again_does_not_see_what_its_unfinished_run_wrote(
    store: Store, run_id: str
) -> None:
    with store.step("plan-exec"):
        store.put_artifact(run_id, "plan", {"tasks": ["T1", "T2"]})
    with store.step("T2-implement"):  # dies after this commit, before its checkpoint
        assert _changesets(store, run_id) == []
        store.put_artifact(run_id, "changeset", {"files": ["a.py"]}, task="T2", attempt=1)
    with store.step("T1-implement"):  # a parallel task's step sees it
        assert _changesets(store, run_id) == [("T2", ["a.py"])]
    with store.step("T2-implement"):  # the same step, run again on resume
        assert _changesets(store, run_id) == []  # as the first run saw the run
        assert [a.kind for a in store.artifacts(run_id)] == ["plan"]
        store.put_artifact(run_id, "changeset", {"files": ["b.py"]}, task="T2", attempt=1)
        assert _changesets(store, run_id) == [("T2", ["b.py"])]  # its own new writes: yes
    # one copy kept, the one the step's checkpoint will refer to
    assert _changesets(store, run_id) == [("T2", ["b.py"])]
    with store.step("T2-review"):  # the next step sees it
        assert _changesets(store, run_id) == [("T2", ["b.py"])]


def test_a_step_run_again_that_writes_nothing_leaves_the_earlier_rows(
    store: Store, run_id: str
) -> None:
    # nothing replaces them, and the step's reads still leave them out
    with store.step("analyze"):
        store.put_artifact(run_id, "spec", {"stories": 1})
    with store.step("analyze"):
        assert store.artifacts(run_id) == []
    assert [a.kind for a in store.artifacts(run_id)] == ["spec"]


def test_writes_outside_a_keyed_step_are_seen_by_every_step(store: Store, run_id: str) -> None:
    store.put_artifact(run_id, "brief", {"text": "x"})
    with store.step():
        store.put_artifact(run_id, "note", {"n": 1})
    with store.step("any"):
        assert sorted(a.kind for a in store.artifacts(run_id)) == ["brief", "note"]


def test_replacing_an_earlier_runs_rows_is_fenced(store: Store, run_id: str) -> None:
    # a holder that lost the run cannot delete (or add) the new holder's rows
    store.raise_fence(run_id, 1)
    with store.fenced(run_id, 1), store.step("T1-implement"):
        store.put_artifact(run_id, "changeset", {"files": ["a.py"]}, task="T1", attempt=1)
    store.raise_fence(run_id, 2)
    with pytest.raises(FenceRefused), store.fenced(run_id, 1), store.step("T1-implement"):
        store.put_artifact(run_id, "changeset", {"files": ["b.py"]}, task="T1", attempt=1)
    assert _changesets(store, run_id) == [("T1", ["a.py"])]
