"""A gate's answer survives the death of the process applying it: the run is approved, the
process is killed after the gate took the answer and before its checkpoint (``after:<gate>``),
and the run taken over goes on with that answer instead of asking again
(``vitco.workflow.answers``). The demo with an approval after the plan, with the tests'
stand-in for its toolchain (``tests.standin``)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.effects import assert_delivered_once
from tests.workflow.test_crash_resume import BRIEF, CASSETTE, vitco
from vitco.config import Settings
from vitco.store import open_store
from vitco.workflow.answers import pending_answer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("sandbox")]

GATED = """name: gated
description: the demo, with an approval of the plan
extends: deliver-project
gates:
  - {after: plan, question: "Approve the plan?"}
"""


def test_an_approval_taken_over_after_a_kill_is_not_asked_again(short_home: Path) -> None:
    (short_home / "workflows").mkdir(parents=True)
    (short_home / "workflows" / "gated.yaml").write_text(GATED, encoding="utf-8")
    paused = vitco(
        short_home, "run", str(BRIEF), "--model", f"replay:{CASSETTE}", "--workflow", "gated",
        "--json", standin=True,
    )  # fmt: skip
    assert json.loads(paused.stdout)["status"] == "awaiting_approval", paused.stderr[-2000:]
    store = open_store(Settings(home=short_home))
    (run,) = store.runs()
    assert pending_answer(store, run.id) is None  # nothing answered yet

    killed = vitco(
        short_home, "approve", run.id, "--json", crash_at="after:approve_after_plan", standin=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert store.get_run(run.id).status == "running"  # died applying it
    assert pending_answer(store, run.id) == {"approved": True, "reason": None}

    taken = vitco(short_home, "worker", "--burst", "--json", standin=True)  # takes it over
    assert taken.returncode == 0, taken.stderr[-3000:]
    assert json.loads(taken.stdout)["resumed"] == [
        {"run_id": run.id, "status": "delivered", "reason": None}
    ]
    assert_delivered_once(store, run.id, [short_home / "outbox"], gates=1)
    endings = [e.message for e in store.events(run.id) if e.kind == "run"]
    assert sum("awaiting_approval" in m for m in endings) == 1  # asked once
    assert any(e.kind == "recover" and "answer" in e.message for e in store.events(run.id))
