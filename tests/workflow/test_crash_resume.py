"""Kill -9 a run at ten different points, resume it each time, and prove nothing was done
twice: two runs, each killed at five points in turn (a chain costs one run, not five)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.effects import assert_delivered_once, mail_kinds
from tests.processes import vitco as command
from tests.standin import ENV as standin_env
from tests.standin import PRELUDE
from vitco.bootstrap import resume_run
from vitco.cli.run import DEMO_BRIEF, DEMO_CASSETTE
from vitco.config import Settings
from vitco.integrations.git.repo import Repo
from vitco.store import Store, open_store

pytestmark = pytest.mark.slow
BRIEF, CASSETTE = DEMO_BRIEF, DEMO_CASSETTE
# the cassette's calls (its lines after the header): each made exactly once across crash + resume
DEMO_CALLS = len(CASSETTE.read_text(encoding="utf-8").splitlines()) - 1


def vitco(
    home: Path,
    *args: str,
    crash_at: str | None = None,
    extra_env: dict[str, str] | None = None,
    standin: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``vitco ARGS`` on the data dir ``home``; ``standin``: with the tests' stand-in for the
    python-service toolchain (``tests.standin``), for tests that are not about it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITCO_")}
    env["VITCO_HOME"] = str(home)
    if crash_at:
        env["VITCO_CRASH_AT"] = crash_at
    if standin:
        env |= standin_env
    env |= extra_env or {}
    return subprocess.run(
        [*command(PRELUDE if standin else None), *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention ``text`` (e.g. a project's path)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(cmdline)
    return found


def assert_each_call_paid_once(store: Store, run_id: str) -> None:
    """One ledger row per call of the cassette: by call key, whatever the request's
    fingerprint (a step run again with a different prompt misses the journal and pays again)."""
    per_call = Counter(c.call_key for c in store.calls(run_id=run_id))
    assert len(per_call) == DEMO_CALLS and set(per_call.values()) == {1}, per_call
    per_attempt = Counter((a.task, a.attempt) for a in store.artifacts(run_id, "changeset"))
    assert set(per_attempt.values()) == {1}, per_attempt  # one changeset kept per attempt


def gone(text: str, within_s: float = 10.0) -> bool:
    """Whether every process mentioning ``text`` is gone (the kernel kills them asynchronously
    once their parent dies)."""
    deadline = time.monotonic() + within_s
    while processes_mentioning(text):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.usefixtures("sandbox")
def test_a_run_killed_at_five_points_in_turn_resumes_without_repeating_anything(
    short_home: Path, postgres_url: str
) -> None:
    # the distributed database: the store and the checkpoints in PostgreSQL (the after:<node>
    # chain below runs on SQLite). One run, killed at each point in turn, each resume dying at
    # the next one; the last resume keeps the app up (--serve): the app died with vitco.
    extra = {"VITCO_DATABASE_URL": postgres_url}
    settings = Settings(home=short_home, database_url=postgres_url)
    points = (
        "after-mail:plan_ready",  # the plan-ready mail sent, not recorded, plan not checkpointed
        "mid-task",  # T1's changeset applied to its worktree, tests not yet run
        "after-commit",  # T1 committed on its branch, not yet merged into main
        "mid-deploy",  # the app is started, not yet health-checked
        "before-mail",  # delivered and tagged, the client not yet told
    )
    args = ["run", str(BRIEF), "--model", f"replay:{CASSETTE}", "--json"]
    for point in points:
        crashed = vitco(short_home, *args, crash_at=point, extra_env=extra)
        assert crashed.returncode == -signal.SIGKILL, (point, crashed.stderr[-2000:])
        store = open_store(settings)
        (run,) = store.runs()
        assert run.status == "running", point  # what a crash leaves behind
        repo_path = store.get_project(run.project_id).repo_path
        assert gone(repo_path), f"{point}: sandboxed processes outlived vitco: " + str(
            processes_mentioning(repo_path)
        )
        args = ["resume", run.id, "--json"]

    assert len(store.artifacts(run.id, "deployment")) == 1  # deployed once, though killed mid-way
    outcome = resume_run(settings, run.id, keep_running=True)
    try:
        report = outcome.report
        assert report["status"] == "delivered", report
        assert report["tests"] == {"passed": 21, "failed": 0}
        assert report["smoke_ok"] is True
        (process,) = outcome.processes
        assert process.url and report["url"] == process.url
        assert httpx.get(process.url + "/health", timeout=5).json() == {"status": "ok"}
    finally:
        outcome.stop()
    assert gone(str(repo_path))

    assert_each_call_paid_once(store, run.id)
    assert_delivered_once(store, run.id, [short_home / "outbox"])
    repo = Repo(Path(report["repo"]))
    subjects = repo.git("log", "--format=%s", "main").splitlines()
    assert len(subjects) == 4 and len(set(subjects)) == 4  # 3 task commits + the first
    restarted = store.artifacts(run.id, "deployment")[1:]  # what --serve started again
    assert [d.content["url"] for d in restarted] == [process.url]
    # each mail once, whatever was sent before each crash
    assert mail_kinds(short_home / "outbox") == {"accepted": 1, "plan_ready": 1, "delivered": 1}
    (delivered,) = [p for p in (short_home / "outbox").glob("*.eml") if "delivery" in p.name]
    assert report["mail"] == str(delivered)
    resumes = [e for e in store.events(run.id) if e.kind == "run" and "resumed" in e.message]
    assert len(resumes) == len(points)


@pytest.mark.usefixtures("sandbox")
def test_a_step_killed_between_its_writes_and_its_checkpoint_runs_again_as_it_ran(
    short_home: Path,
) -> None:
    # after:<node> kills once the step's rows are committed and before LangGraph checkpoints
    # it: the step runs again on resume. Its prompts must not show its own stored output (the
    # developer's files, QA's tests), or the journal misses and the call is paid twice; and it
    # reports once what it did (the fleet test saw "spec: Todo API" twice). Five kills in a
    # row, one run, each resume dying at the next point.
    args = ["run", str(BRIEF), "--model", f"replay:{CASSETTE}", "--json"]
    points = ("after:analyze", "after:plan", "after:implement", "after:review", "after:write_tests")
    for point in points:
        crashed = vitco(short_home, *args, crash_at=point)
        assert crashed.returncode == -signal.SIGKILL, (point, crashed.stderr[-2000:])
        store = open_store(Settings(home=short_home))
        (run,) = store.runs()
        step = point.split(":")[1]
        ran = [e for e in store.events(run.id) if e.kind == "step" and e.step == step]
        assert ran, point  # its writes were committed before the kill
        args = ["resume", run.id, "--json"]
    resumed = vitco(short_home, *args)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert json.loads(resumed.stdout)["status"] == "delivered"
    assert_each_call_paid_once(store, run.id)
    assert_delivered_once(store, run.id, [short_home / "outbox"])
    for step in ("analyze", "plan"):  # the run's own steps: once each, though run twice
        ran = [e for e in store.events(run.id) if e.kind == "step" and e.step == step]
        assert len(ran) == 1, [e.message for e in ran]
    resumes = [e for e in store.events(run.id) if e.kind == "run" and "resumed" in e.message]
    assert len(resumes) == len(points)
