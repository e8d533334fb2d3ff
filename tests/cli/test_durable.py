"""`vitco history | fork | resume | gc` as a user types them, over a replayed demo run."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vitco.bootstrap import start_run
from vitco.cli.app import app
from vitco.cli.run import DEMO_BRIEF, DEMO_CASSETTE
from vitco.config import Settings
from vitco.sandbox import Sandbox

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("standin_toolchain")]
BRIEF, CASSETTE = DEMO_BRIEF, DEMO_CASSETTE


def test_history_fork_resume_and_gc(settings: Settings, sandbox: Sandbox) -> None:
    original = start_run(settings, BRIEF, model_id=f"replay:{CASSETTE}", sandbox=sandbox).report
    runner = CliRunner()
    env = {"VITCO_HOME": str(settings.home)}

    def vitco(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
        result = runner.invoke(app, [*args, "--json"], env=env)
        return result.exit_code, json.loads(result.stdout)

    code, history = vitco("history", original["run_id"])
    assert code == 0 and history["run_id"] == original["run_id"]
    after_plan = next(c for c in history["checkpoints"] if c["after"] == "plan")

    code, nothing = vitco("resume", original["run_id"])
    assert code == 1 and "nothing to resume" in nothing["error"]

    table = runner.invoke(app, ["history", original["run_id"][:6]], env=env).stdout
    shown = [line.split()[1] for line in table.splitlines() if line.startswith("│ ")]
    assert len(shown) == len(history["checkpoints"]) == len(set(shown))  # none cut alike
    for short, row in zip(shown, history["checkpoints"], strict=True):
        assert row["checkpoint_id"].startswith(short) and len(short) >= 8

    code, fork = vitco(
        "fork",
        original["run_id"][:8],  # a unique prefix of the run id
        "--at",
        str(after_plan["step"]),  # a step number, as history lists it
        "--drop-task",
        "T3",
        "--set",
        "plan.tasks.0.title=Models and store",
    )
    assert code == 0, fork
    assert fork["status"] == "delivered" and fork["branch"].startswith("fork/")
    assert [(t["id"], t["title"]) for t in fork["tasks"]] == [
        ("T1", "Models and store"),
        ("T2", "HTTP API for todos"),
    ]

    code, bad = vitco("fork", original["run_id"], "--at", "nope")
    assert code == 1 and "no checkpoint 'nope'" in bad["error"]
    code, bad = vitco("fork", original["run_id"], "--at", "999")
    assert code == 1 and "no checkpoint at step 999" in bad["error"]
    common = history["checkpoints"][0]["checkpoint_id"][:4]  # time-ordered ids share a start
    code, bad = vitco("fork", original["run_id"], "--at", common)
    assert code == 1 and f"{common!r} starts {len(history['checkpoints'])}" in bad["error"]

    code, dry = vitco("gc", "--days", "0", "--dry-run")
    assert code == 0 and set(dry["runs"]) == {original["run_id"], fork["run_id"]}
    assert dry["rows"] > 0 and dry["data_bytes"] > 0  # what would be freed, not "0 rows"
    said = runner.invoke(app, ["gc", "--days", "0", "--dry-run"], env=env).stdout
    assert said.startswith(f"would free {dry['rows']:,} checkpoint rows ({dry['data_bytes']:,}")
    code, same = vitco("history", original["run_id"])
    assert same == history  # a dry run removes nothing
    code, done = vitco("gc", "--days", "0")
    assert code == 0 and (done["rows"], done["data_bytes"]) == (dry["rows"], dry["data_bytes"])
    code, pruned = vitco("history", original["run_id"])
    assert len(pruned["checkpoints"]) == 1
