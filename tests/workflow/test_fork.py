"""Time travel: history lists the checkpoints; a fork from the plan without one task delivers
a project without it, and leaves the original run untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitco.bootstrap import resume_run, start_run
from vitco.cli.run import DEMO_BRIEF, DEMO_CASSETTE
from vitco.config import Settings
from vitco.integrations.git.repo import Repo
from vitco.sandbox import Sandbox
from vitco.store import open_store
from vitco.workflow.exceptions import BadFork
from vitco.workflow.timetravel import checkpoints, fork_run

pytestmark = pytest.mark.slow
BRIEF, CASSETTE = DEMO_BRIEF, DEMO_CASSETTE


def test_fork_from_the_plan_without_a_task_and_bad_forks_refused(
    settings: Settings, sandbox: Sandbox
) -> None:
    original = start_run(settings, BRIEF, model_id=f"replay:{CASSETTE}", sandbox=sandbox).report
    assert original["status"] == "delivered"
    store = open_store(settings)
    rows = checkpoints(settings, open_store(settings), original["run_id"])
    assert [r["step"] for r in rows] == sorted(r["step"] for r in rows)
    after_plan = next(r for r in rows if r["after"] == "plan")
    assert after_plan["next"] == ["tasks"] and after_plan["done"] == []
    assert rows[-1]["done"] == ["T1", "T2", "T3"]

    # a bad fork says what is wrong and creates nothing
    with pytest.raises(BadFork, match="no task T9"):
        fork_run(
            settings, store, original["run_id"], after_plan["checkpoint_id"], drop_tasks=["T9"]
        )
    with pytest.raises(BadFork, match="cannot edit 'status'"):
        fork_run(
            settings, store, original["run_id"], after_plan["checkpoint_id"], edits={"status": "x"}
        )
    with pytest.raises(BadFork, match="invalid"):
        fork_run(
            settings,
            store,
            original["run_id"],
            after_plan["checkpoint_id"],
            edits={"plan.tasks": []},
        )
    assert len(store.runs()) == 1

    fork = fork_run(
        settings, store, original["run_id"], after_plan["checkpoint_id"], drop_tasks=["T3"]
    )
    report = resume_run(settings, fork.run_id, sandbox=sandbox).report
    assert report["status"] == "delivered", report["reason"]
    assert [t["id"] for t in report["tasks"]] == ["T1", "T2"]
    assert report["tests"]["passed"] == 17  # T1's and T2's tests; T3's filter tests are gone

    repo = Repo(Path(original["repo"]))
    fork_log = repo.git("log", "--format=%s", fork.branch).splitlines()
    assert fork_log == [
        "Add the HTTP API for todos; POST /todos answers 201 Created",
        "Add todo models and an in-memory store",
        "Start project",
    ]
    assert "README.md" not in repo.git("ls-tree", "--name-only", fork.branch).split()
    assert repo.git("merge-base", "main", fork.branch) == fork.base_sha  # shared history
    assert repo.head(f"delivered-{fork.run_id}") == repo.head(fork.branch)

    # the original is unchanged: its branch, its tag, its tasks, its report
    assert len(repo.git("log", "--format=%s", "main").splitlines()) == 4
    assert repo.head("delivered") == repo.head("main")
    again = store.get_run(original["run_id"])
    assert again.status == "delivered"
    assert [t.key for t in store.tasks(original["run_id"])] == ["T1", "T2", "T3"]
    assert again.report is not None and again.report["commits"] == 3
    fork_row = store.get_run(fork.run_id)
    assert fork_row.parent_run_id == original["run_id"]
    assert fork_row.fork_checkpoint == after_plan["checkpoint_id"]
