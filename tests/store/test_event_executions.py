"""Events and step executions on real SQLite and PostgreSQL: a step run again (its writes
committed, its checkpoint not: a worker killed between the two) reports once what it did.
The fleet test found a run whose analyst step ran twice that way saying "spec: Todo API" twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitco.store import Store, open_database


@pytest.fixture
def store(database_url: str) -> Store:
    return Store(open_database(database_url))


@pytest.fixture
def run_id(store: Store, tmp_path: Path) -> str:
    project = store.create_project("todo", str(tmp_path / "repo"))
    brief = store.create_brief(project.id, "cli", "A todo API.")
    return store.create_run(project.id, brief.id, "test", "deliver-project").id


def _said(store: Store, run_id: str) -> list[tuple[str, str]]:
    return [(e.kind, e.message) for e in store.events(run_id)]


def test_a_step_run_again_reports_once_what_it_did(store: Store, run_id: str) -> None:
    for _ in range(2):  # the step, then its run again on resume
        with store.step("plan-exec"):
            store.add_event(run_id, "step", "manager plans the work", step="plan")
            store.add_event(run_id, "plan", "plan: 3 tasks", step="plan")
    assert _said(store, run_id) == [("step", "manager plans the work"), ("plan", "plan: 3 tasks")]


def test_what_another_execution_or_no_step_says_is_said_again(store: Store, run_id: str) -> None:
    with store.step("T2-review-attempt-1"):
        store.add_event(run_id, "step", "reviewer reads T2", step="review", task="T2")
    with store.step("T2-review-attempt-2"):  # a second attempt: rightly said again
        store.add_event(run_id, "step", "reviewer reads T2", step="review", task="T2")
    with store.step("T2-review-attempt-1"):  # its run again: said once more than before
        store.add_event(run_id, "step", "reviewer reads T2", step="review", task="T2")
        store.add_event(run_id, "step", "reviewer reads T2", step="review", task="T2")
        store.add_event(run_id, "warning", "something new", step="review", task="T2")
    store.add_event(run_id, "step", "reviewer reads T2")  # outside a step: as said
    assert _said(store, run_id) == [
        ("step", "reviewer reads T2"),
        ("step", "reviewer reads T2"),
        ("step", "reviewer reads T2"),
        ("warning", "something new"),
        ("step", "reviewer reads T2"),
    ]
    runs = {e.execution for e in store.events(run_id)}
    assert runs == {"T2-review-attempt-1", "T2-review-attempt-2", None}


def test_a_step_without_an_execution_key_writes_all(store: Store, run_id: str) -> None:
    for _ in range(2):  # a step run outside a graph has no key: nothing to compare with
        with store.step():
            store.add_event(run_id, "plan", "plan: 3 tasks")
    assert _said(store, run_id) == [("plan", "plan: 3 tasks")] * 2
