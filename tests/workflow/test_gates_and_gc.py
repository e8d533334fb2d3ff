"""Approval gates pause a run until a person answers; gc prunes delivered runs' checkpoints."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.effects import mail_kinds, mails, plain
from tests.workflow.scripted import happy_path, script, write_brief
from vitco.bootstrap import resume_run, start_run
from vitco.cli.app import app
from vitco.config import Settings
from vitco.sandbox import Sandbox
from vitco.store import open_store
from vitco.workflow.exceptions import NothingToResume, TemplateInvalid
from vitco.workflow.retention import collect
from vitco.workflow.timetravel import checkpoints

pytestmark = pytest.mark.slow
CAREFUL = (
    "name: careful\nextends: deliver-project\ngates:\n  - {after: plan, question: 'Plan OK?'}\n"
)


@pytest.fixture
def careful(settings: Settings) -> str:
    (settings.home / "workflows").mkdir(parents=True, exist_ok=True)
    (settings.home / "workflows" / "careful.yaml").write_text(CAREFUL)
    return "careful"


def test_a_gate_pauses_until_approved(
    settings: Settings, sandbox: Sandbox, tmp_path: Path, careful: str
) -> None:
    model = script(happy_path())
    paused = start_run(
        settings, write_brief(tmp_path), model=model, sandbox=sandbox, workflow=careful
    ).report
    assert paused["status"] == "awaiting_approval"
    assert paused["reason"] == "Plan OK?"
    assert [r.key.label() for r in model.requests] == [
        "analyst/analyze#1",
        "reviewer/check_spec#1",
        "manager/plan#1",
    ]
    # the client heard: taken on, the plan (waiting for approval), the stop at the gate
    assert mail_kinds(settings.outbox_dir) == {"accepted": 1, "plan_ready": 1, "needs_attention": 1}
    (plan_mail,) = mails(settings.outbox_dir, kind="plan_ready")
    assert f"It waits for your approval: vitco approve {paused['run_id']}" in plain(plan_mail)
    (gate_mail,) = mails(settings.outbox_dir, kind="needs_attention")
    assert "Plan OK?" in plain(gate_mail) and "It waits for a decision" in plain(gate_mail)
    with pytest.raises(NothingToResume, match="awaiting approval"):
        resume_run(settings, paused["run_id"], model=model, sandbox=sandbox)

    done = resume_run(
        settings, paused["run_id"], model=model, sandbox=sandbox, resume={"approved": True}
    ).report
    assert done["status"] == "delivered", done["reason"]
    labels = [r.key.label() for r in model.requests]
    assert labels.count("manager/plan#1") == 1  # nothing before the gate was asked again
    assert mail_kinds(settings.outbox_dir) == {
        "accepted": 1, "plan_ready": 1, "needs_attention": 1, "delivered": 1,
    }  # fmt: skip


def test_a_rejected_gate_stops_the_run_with_the_reason(
    settings: Settings, sandbox: Sandbox, tmp_path: Path, careful: str
) -> None:
    model = script(happy_path())
    paused = start_run(
        settings, write_brief(tmp_path), model=model, sandbox=sandbox, workflow=careful
    ).report
    report = resume_run(
        settings,
        paused["run_id"],
        model=model,
        sandbox=sandbox,
        resume={"approved": False, "reason": "too big"},
    ).report
    assert report["status"] == "needs_attention"
    assert report["reason"] == "rejected at approve_after_plan: too big"
    assert report["commits"] == 0
    # the CLI refuses to approve a run that is not waiting at a gate
    result = CliRunner().invoke(
        app, ["approve", paused["run_id"], "--json"], env={"VITCO_HOME": str(settings.home)}
    )
    assert result.exit_code == 1
    assert "is needs_attention, not awaiting approval" in json.loads(result.stdout)["error"]


def test_an_unknown_workflow_is_refused_before_anything_is_stored(
    settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(TemplateInvalid, match="no workflow template 'nope'"):
        start_run(settings, write_brief(tmp_path), model=script({}), workflow="nope")
    assert open_store(settings).projects() == []


def test_gc_prunes_a_delivered_run_to_its_final_checkpoint(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    report = start_run(
        settings, write_brief(tmp_path), model=script(happy_path()), sandbox=sandbox
    ).report
    assert report["status"] == "delivered"
    store = open_store(settings)
    before = checkpoints(settings, open_store(settings), report["run_id"])
    assert len(before) > 5
    kept = collect(settings, store, days=30)
    assert kept["runs"] == []  # delivered just now: kept
    dry = collect(settings, store, days=0, dry_run=True)  # says what would go, removes nothing
    assert dry["runs"] == [report["run_id"]] and dry["rows"] > 0 and dry["data_bytes"] > 0
    assert len(checkpoints(settings, open_store(settings), report["run_id"])) == len(before)
    result = collect(settings, store, days=0)
    assert result["runs"] == [report["run_id"]]
    assert (result["rows"], result["data_bytes"]) == (dry["rows"], dry["data_bytes"])
    after = checkpoints(settings, open_store(settings), report["run_id"])
    assert len(after) == 1
    assert after[0]["checkpoint_id"] == before[-1]["checkpoint_id"]
    with sqlite3.connect(settings.checkpoints_path) as conn:
        namespaces = conn.execute(
            "SELECT DISTINCT checkpoint_ns FROM checkpoints WHERE thread_id = ?",
            (report["run_id"],),
        ).fetchall()
    assert namespaces == [("",)]  # the task sub-flows' checkpoints are gone too
    assert store.get_run(report["run_id"]).status == "delivered"
