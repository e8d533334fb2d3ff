"""Budget: a run whose cap is below its needs pauses as budget_exceeded before the call that
would cross it; raising the cap (``vitco budget --set``) and resuming delivers it, and no
completed call is made (or paid for) twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.effects import mail_kinds, mails, plain
from tests.workflow.scripted import happy_path, script, write_brief
from vitco.bootstrap import resume_run, start_run
from vitco.cli.app import app
from vitco.config import Settings
from vitco.llm.router import Route, Router
from vitco.llm.testing import FunctionModel
from vitco.sandbox import Sandbox
from vitco.store import open_store

pytestmark = pytest.mark.slow

MODEL_ID = "fake:scripted"
# USD per million tokens: dear enough that the output allowance (4096 tokens, $0.82) dominates
# each estimate while the scripted answers themselves cost a few cents.
PRICES = {MODEL_ID: (100.0, 200.0, 0.0)}
CAP = 0.95


def priced(model: FunctionModel) -> Router:
    return Router({"standard": [Route(model, "fake", MODEL_ID)]}, prices=PRICES)


def test_a_run_pauses_before_crossing_its_cap_and_resumes_after_a_raise(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    model = script(happy_path())
    capped = settings.model_copy(update={"budget_usd": CAP})

    paused = start_run(capped, write_brief(tmp_path), model=priced(model), sandbox=sandbox).report

    assert paused["status"] == "budget_exceeded", paused["reason"]
    assert "budget exceeded" in paused["reason"]
    store = open_store(settings)
    project_id, run_id = paused["project_id"], paused["run_id"]
    assert store.get_project(project_id).budget_usd == CAP  # the cap is the project's
    before = store.calls(run_id=run_id)
    assert 1 <= len(before) < 6  # it stopped part way, between calls
    spent = store.spent_usd(project_id)
    assert spent <= CAP + max(c.cost_usd for c in before)
    assert all(c.cost_usd > 0 for c in before)
    made = [r.key.label() for r in model.requests]
    assert made == [c.call_key for c in before]  # the refused call was never sent
    (stopped,) = mails(settings.outbox_dir, kind="needs_attention")
    assert "budget exceeded" in plain(stopped) and f"vitco resume {run_id}" in plain(stopped)
    # resumed before the cap is raised, it stops at the same point: the client is not told again
    again = resume_run(capped, run_id, model=priced(model), sandbox=sandbox).report
    assert again["status"] == "budget_exceeded"
    assert len(mails(settings.outbox_dir, kind="needs_attention")) == 1

    cli = CliRunner().invoke(
        app, ["budget", project_id, "--json"], env={"VITCO_HOME": str(settings.home)}
    )
    assert cli.exit_code == 0, cli.output
    shown = json.loads(cli.stdout)
    assert shown["run_status"] == "budget_exceeded" and shown["resume"] == f"vitco resume {run_id}"
    assert shown["spent_usd"] == pytest.approx(spent, abs=1e-6)

    raised = CliRunner().invoke(
        app,
        ["budget", project_id, "--set", "100", "--json"],
        env={"VITCO_HOME": str(settings.home)},
    )
    assert raised.exit_code == 0, raised.output
    assert json.loads(raised.stdout)["budget_usd"] == 100.0

    done = resume_run(settings, run_id, model=priced(model), sandbox=sandbox).report

    assert done["status"] == "delivered", done["reason"]
    labels = [r.key.label() for r in model.requests]
    assert len(labels) == len(set(labels)) == len(happy_path())  # each call once over both runs
    after = store.calls(run_id=run_id)
    assert len(after) == len(happy_path()) and [c.call_key for c in after[: len(before)]] == made
    assert done["cost"]["usd"] == pytest.approx(sum(c.cost_usd for c in after), abs=1e-5)
    assert store.spent_usd(project_id) <= 100.0
    assert mail_kinds(settings.outbox_dir)["needs_attention"] == 1
    assert mail_kinds(settings.outbox_dir)["delivered"] == 1


def test_a_cap_that_fits_changes_nothing(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    model = script(happy_path())
    capped = settings.model_copy(update={"budget_usd": 50.0})
    report = start_run(capped, write_brief(tmp_path), model=priced(model), sandbox=sandbox).report
    assert report["status"] == "delivered", report["reason"]
    assert 0 < report["cost"]["usd"] < 50.0
