"""The worker resumes a run whose process died, and leaves runs with a live executor alone."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.workflow.test_crash_resume import BRIEF, CASSETTE, DEMO_CALLS, vitco
from vitco.config import Settings
from vitco.jobs import orphaned_runs
from vitco.store import open_store
from vitco.workflow.checkpoints import run_lock

pytestmark = pytest.mark.slow


@pytest.mark.usefixtures("sandbox")
def test_the_worker_resumes_a_run_whose_process_died(short_home: Path) -> None:
    crashed = vitco(
        short_home, "run", str(BRIEF), "--model", f"replay:{CASSETTE}", crash_at="mid-task",
        standin=True,
    )  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL
    settings = Settings(home=short_home)
    store = open_store(settings)
    (run,) = store.runs()
    assert orphaned_runs(settings, store) == [run.id]

    with run_lock(settings, store, run.id):  # a live executor holds the lease: not an orphan
        assert orphaned_runs(settings, store) == []

    # the lease this test took and gave back leaves the run without one: orphaned once it
    # has been idle for the lease's ttl (0.5 s here; a worker takes longer than that to start)
    worked = vitco(
        short_home, "worker", "--burst", "--json", extra_env={"VITCO_LEASE_TTL_S": "0.5"},
        standin=True,
    )  # fmt: skip
    assert worked.returncode == 0, worked.stderr[-2000:]
    resumed = json.loads(worked.stdout)["resumed"]
    assert resumed == [{"run_id": run.id, "status": "delivered", "reason": None}]
    assert len(store.calls(run_id=run.id)) == DEMO_CALLS  # nothing asked twice
    assert orphaned_runs(settings, store) == []

    again = vitco(short_home, "worker", "--burst", "--json")
    assert json.loads(again.stdout)["resumed"] == []
