"""Every state a run stops in says why in one sentence and the commands that continue it, in
the human output and as ``next`` under ``--json``; the summary claims nothing that did not
happen; ``vitco show`` renders the spec, the plan and the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tests.processes import free_port
from vitco.cli.app import app
from vitco.cli.run import DEMO_BRIEF, DEMO_CASSETTE
from vitco.config import Settings
from vitco.store import Store, open_store

runner = CliRunner()
CAREFUL = (
    "name: careful\nextends: deliver-project\ngates:\n  - {after: plan, question: 'Plan OK?'}\n"
)


def vitco(home: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, list(args), env={"VITCO_HOME": str(home)} | (env or {}))


def as_json(home: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
    result = vitco(home, *args, "--json", env=env)
    return result.exit_code, json.loads(result.stdout)


def commands(data: dict[str, Any]) -> list[str]:
    return [step["command"] for step in data["next"]]


def stopped_run(store: Store, tmp_path: Path, status: str, reason: str, **report: Any) -> str:
    """A run stored in ``status`` (as the runner leaves it), without running anything."""
    project = store.create_project("Todo API", str(tmp_path / "no-repo"))
    brief = store.create_brief(project.id, "brief.md", "# Todo API")
    run = store.create_run(project.id, brief.id, "replay:x.jsonl", "deliver-project")
    store.update_run(run.id, status="running")
    store.update_run(run.id, status=status, reason=reason, report=report or None)
    return run.id


def test_a_gate_says_how_to_approve_and_show_renders_the_plan(
    settings: Settings, tmp_path: Path
) -> None:
    home = settings.home
    (home / "workflows").mkdir(parents=True)
    (home / "workflows" / "careful.yaml").write_text(CAREFUL)
    argv = ["run", str(DEMO_BRIEF), "--model", f"replay:{DEMO_CASSETTE}", "--workflow", "careful"]
    human = vitco(home, *argv)
    assert human.exit_code == 1
    run_id = open_store(settings).runs()[0].id
    out = human.stdout
    assert f"AWAITING_APPROVAL  run {run_id}\nThe run waits for your approval: Plan OK?\n" in out
    assert f"  vitco approve {run_id}  " in out and f"  vitco reject {run_id} --reason TEXT" in out
    # the summary claims no delivery, deployment, delivery mail or tests, and no end (the log
    # above it shows the client's "accepted" and "plan ready" mails, which were sent)
    summary = out[out.index("AWAITING_APPROVAL") :]
    for claim in ("delivery", "smoke", "mail ", "tests ", "time  0.0s"):
        assert claim not in summary, claim
    assert "accepted mail sent to the client" in out
    assert "s so far (not finished)" in out

    code, data = as_json(home, "status", run_id[:7])
    assert code == 0 and data["status"] == "awaiting_approval" and data["smoke_ok"] is None
    assert commands(data) == [
        f"vitco show {run_id}",
        f"vitco approve {run_id}",
        f"vitco reject {run_id} --reason TEXT",
    ]
    assert data["headline"] == "The run waits for your approval: Plan OK?"

    shown = vitco(home, "show", run_id[:8])
    assert shown.exit_code == 0
    code, parts = as_json(home, "show", run_id)
    spec, plan = parts["spec"], parts["plan"]
    for text in (spec["title"], spec["summary"], *[s["story"] for s in spec["user_stories"]]):
        assert text in shown.stdout
    for task in plan["tasks"]:
        assert f"{task['id']}  {task['title']}" in shown.stdout
        assert task["description"] in shown.stdout  # one line each: nothing wrapped
    assert "no tests have run yet" in shown.stdout
    assert parts["report"]["next"][1]["command"] == f"vitco approve {run_id}"

    code, rejected = as_json(home, "reject", run_id[:9], "--reason", "too big")
    assert code == 1 and rejected["status"] == "needs_attention"
    assert rejected["reason"] == "rejected at approve_after_plan: too big"
    assert rejected["resumable"] is False  # the graph ended: resuming would do nothing
    assert commands(rejected)[-1] == f"vitco fork {run_id} --at STEP --edit"
    code, again = as_json(home, "approve", run_id)
    assert code == 1 and again["error"] == f"run {run_id} is needs_attention, not awaiting approval"
    assert f"vitco fork {run_id} --at STEP --edit" in again["hint"]


@pytest.mark.parametrize(
    ("status", "reason", "report", "expected", "sentence"),
    [
        (
            "interrupted",
            "stopped by Ctrl-C; vitco resume RUN continues",
            {"resumable": True},
            ["vitco resume {run}"],
            "The run was interrupted; nothing of the step it was in was kept.",
        ),
        (
            "budget_exceeded",
            "budget exceeded: spent $0.9000 of $1.0000; the next call would cost up to $0.2000",
            {},
            ["vitco budget {run} --set 2.00", "vitco resume {run}"],
            "The run paused: its next model call would cross the project's budget: budget "
            "exceeded: spent $0.9000 of $1.0000; the next call would cost up to $0.2000.",
        ),
        (
            "failed",
            "KeyError: 'x'",
            {"resumable": True},
            ["vitco logs {run}", "vitco resume {run}"],
            "The run failed on an error in vitco: KeyError: 'x'.",
        ),
        (
            "needs_attention",
            "the app never became healthy",
            {"resumable": True},
            ["vitco show {run}", "vitco resume {run}"],
            "The run stopped and needs you: the app never became healthy.",
        ),
        (
            "needs_attention",
            "T1: 3 attempts exhausted; last tests: 1 passed, 2 failed, 0 errors",
            {"resumable": False},
            ["vitco show {run}", "vitco fork {run} --at STEP --edit"],
            "The run stopped and needs you: T1: 3 attempts exhausted; last tests: 1 passed, 2 "
            "failed, 0 errors.",
        ),
    ],
)
def test_each_stopping_state_says_why_and_what_next(
    settings: Settings,
    tmp_path: Path,
    status: str,
    reason: str,
    report: dict[str, Any],
    expected: list[str],
    sentence: str,
) -> None:
    store = open_store(settings)
    run = stopped_run(store, tmp_path, status, reason, **report)
    if status == "budget_exceeded":
        store.set_budget(store.get_run(run).project_id, 1.0)
    code, data = as_json(settings.home, "report", run)
    assert code == 0
    assert commands(data) == [c.format(run=run) for c in expected]
    assert data["headline"] == sentence
    human = vitco(settings.home, "status", run).stdout
    assert f"{status.upper()}  run {run}\n{sentence}\nrepository" in human
    for command in expected:
        assert f"  {command.format(run=run)}  " in human


def test_an_unreachable_provider_is_said_once_with_the_fix(
    settings: Settings, tmp_path: Path
) -> None:
    env = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1"}
    code, data = as_json(
        settings.home, "run", str(DEMO_BRIEF), "--model", "openai:gpt-4o-mini", env=env
    )
    assert code == 1 and data["status"] == "needs_attention"
    run = data["run_id"]
    assert data["reason"].count("connection failed") == 1  # said once, with how often
    assert "times)" in data["reason"]
    assert commands(data) == ["vitco models check", f"vitco show {run}", f"vitco resume {run}"]
    fix = data["next"][0]["why"]
    assert "openai:gpt-4o-mini" in fix and f"vitco resume {run} --model ID" in fix
    human = vitco(settings.home, "report", run).stdout
    assert "  vitco models check  " in human and "sk-test" not in human
