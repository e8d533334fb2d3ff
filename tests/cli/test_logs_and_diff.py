"""`vitco logs RUN [--follow]`, `vitco diff RUN [TASK]` and `status`'s event tail, over a
replayed demo run; piped output is compared byte for byte where a program would read it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from vitco.bootstrap import start_run
from vitco.cli.app import app
from vitco.cli.run import DEMO_BRIEF, DEMO_CASSETTE
from vitco.cli.status import RECENT_EVENTS, event_line
from vitco.config import Settings
from vitco.sandbox import Sandbox
from vitco.store import open_store

pytestmark = pytest.mark.slow
runner = CliRunner()


def git(repo: str, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", repo, *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.usefixtures("standin_toolchain")  # about the commands, not the toolchain
def test_logs_diff_and_status_of_a_delivered_run(settings: Settings, sandbox: Sandbox) -> None:
    report = start_run(settings, DEMO_BRIEF, model_id=f"replay:{DEMO_CASSETTE}", sandbox=sandbox)
    run, repo = report.report["run_id"], report.report["repo"]
    env = {"VITCO_HOME": str(settings.home)}
    store = open_store(settings)
    events = store.events(run)
    assert len(events) > RECENT_EVENTS  # the demo has more events than status shows

    logs = runner.invoke(app, ["logs", run[:6]], env=env)
    assert logs.exit_code == 0
    assert logs.stdout == "".join(event_line(e) + "\n" for e in events)  # all, unwrapped
    followed = runner.invoke(app, ["logs", run, "--follow", "--json"], env=env)
    assert followed.exit_code == 0  # the run has stopped: follow ends after the last event
    rows = [json.loads(line) for line in followed.stdout.splitlines()]
    assert [r["id"] for r in rows] == [e.id for e in events]
    assert rows[-1]["message"] == f"run {run} delivered"

    status = runner.invoke(app, ["status", run], env=env).stdout
    assert f"last {RECENT_EVENTS} of {len(events)} events" in status
    assert f"all {len(events)} events: vitco logs {run}" in status

    base = store.get_run(run).base_sha
    diff = runner.invoke(app, ["diff", run], env=env)
    assert diff.exit_code == 0
    assert diff.stdout == git(repo, "diff", "--no-color", f"{base}", "main")
    tasks = {t.key: t for t in store.tasks(run)}
    one = runner.invoke(app, ["diff", run, "T1", "--stat"], env=env)
    expected = git(repo, "show", "--format=", "--stat", "--no-color", tasks["T1"].commit_sha or "")
    assert one.exit_code == 0 and one.stdout == expected
    assert one.stdout.startswith(" ")  # git's layout kept, first line included
    code = runner.invoke(app, ["diff", run, "--json"], env=env)
    assert json.loads(code.stdout)["diff"] == diff.stdout
    missing = runner.invoke(app, ["diff", run, "T9", "--json"], env=env)
    assert missing.exit_code == 1 and json.loads(missing.stdout)["error"] == (
        f"no task of run {run} 'T9'"
    )

    # a real pipe (not the test runner): nothing is wrapped, whatever the terminal width
    piped = subprocess.run(
        [sys.executable, "-m", "vitco.cli", "status", run],
        env=env | {"PATH": "/usr/bin:/bin", "COLUMNS": "40"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"{'mail':>10}  {report.report['mail']}\n" in piped
    assert f"repository  {repo} (" in piped
