"""The distributed database: a run's state, ledger and checkpoints in PostgreSQL, with the
same behaviour as on SQLite (delivery, resume from a checkpoint, fork, gc)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workflow.scripted import calc, happy_path, script, write_brief
from vitco.bootstrap import resume_run, start_run
from vitco.config import Settings
from vitco.sandbox import Sandbox
from vitco.store import open_store
from vitco.workflow.retention import collect
from vitco.workflow.timetravel import checkpoints, fork_run

pytestmark = pytest.mark.slow


@pytest.fixture
def pg_settings(tmp_path: Path, postgres_url: str) -> Settings:
    """The store and the checkpoints in a PostgreSQL schema of this test's own."""
    return Settings(home=tmp_path / "home", database_url=postgres_url, health_timeout_s=20.0)


def test_a_run_lives_in_postgres(pg_settings: Settings, sandbox: Sandbox, tmp_path: Path) -> None:
    assert not pg_settings.checkpoints_path.exists()
    answers = happy_path() | {
        "developer/implement/T1#1": calc(correct=False),
        "developer/implement/T1#2": calc(correct=True),
        "reviewer/review/T1#2": happy_path()["reviewer/review/T1#1"],
    }
    model = script(answers)
    report = start_run(pg_settings, write_brief(tmp_path), model=model, sandbox=sandbox).report
    assert report["status"] == "delivered", report["reason"]
    assert report["tasks"][0]["attempts"] == 2
    assert not pg_settings.checkpoints_path.exists()  # checkpoints went to PostgreSQL
    store = open_store(pg_settings)
    assert len(store.calls(run_id=report["run_id"])) == len(answers)  # each answer once

    rows = checkpoints(pg_settings, store, report["run_id"])
    after_plan = next(r for r in rows if r["after"] == "plan")
    fork = fork_run(pg_settings, store, report["run_id"], after_plan["checkpoint_id"])
    forked = resume_run(pg_settings, fork.run_id, model=model, sandbox=sandbox).report
    assert forked["status"] == "delivered", forked["reason"]

    dry = collect(pg_settings, store, days=0, dry_run=True)
    assert dry["rows"] > 0 and dry["data_bytes"] > 0
    assert len(checkpoints(pg_settings, store, report["run_id"])) > 1
    pruned = collect(pg_settings, store, days=0)
    assert pruned["rows"] == dry["rows"]
    assert set(pruned["runs"]) == {report["run_id"], fork.run_id}
    assert len(checkpoints(pg_settings, store, report["run_id"])) == 1
