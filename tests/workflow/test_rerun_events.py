"""A step killed between its writes and its checkpoint (``after:<node>``) runs again on
resume and reports once what it did: the run killed after its plan was stored is delivered
with one "plan" event, one spec, each call paid once (``tests.effects``). The fleet test
found the spec reported twice after a worker was killed right after the analyst's step."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.effects import assert_delivered_once
from tests.workflow.test_crash_resume import BRIEF, CASSETTE, vitco
from vitco.config import Settings
from vitco.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("sandbox")]


@pytest.mark.parametrize("point", ["after:analyze", "after:plan"])
def test_a_step_run_again_after_a_kill_reports_once(short_home: Path, point: str) -> None:
    args = ["run", str(BRIEF), "--model", f"replay:{CASSETTE}", "--json"]
    crashed = vitco(short_home, *args, crash_at=point)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    store = open_store(Settings(home=short_home))
    (run,) = store.runs()
    step = point.split(":")[1]
    ran = [e for e in store.events(run.id) if e.kind == "step" and e.step == step]
    assert len(ran) == 1  # its writes were committed before the kill

    resumed = vitco(short_home, "resume", run.id, "--json")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert json.loads(resumed.stdout)["status"] == "delivered"
    assert_delivered_once(store, run.id, [short_home / "outbox"])
    ran = [e for e in store.events(run.id) if e.kind == "step" and e.step == step]
    assert len(ran) == 1, [e.message for e in ran]
