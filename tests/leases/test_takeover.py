"""Whole runs losing their worker: paused past the lease (SIGSTOP) and killed (kill -9).

A paused worker that wakes up after another took its run over must record and repeat nothing;
a killed worker's run must be taken over by another process's recover loop within 15 s, from
its checkpoint, with no model call paid twice. The demo, with the tests' stand-in for its
toolchain (``tests.standin``): these tests are about leases.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.effects import mail_kinds
from tests.processes import vitco as command
from tests.standin import ENV as standin_env
from tests.standin import PRELUDE
from tests.workflow.test_crash_resume import BRIEF, CASSETTE, DEMO_CALLS, vitco
from vitco.config import Settings
from vitco.integrations.git.repo import Repo
from vitco.leases.sql import SqlRunLease
from vitco.store import Store, open_store

pytestmark = pytest.mark.slow


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITCO_")}
    return env | {"VITCO_HOME": str(home)} | standin_env | extra


def _state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2]


def _wait(what: str, check: object, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within_s} s: {what}")
        time.sleep(0.1)


def _the_run(store: Store) -> str:
    runs = store.runs()
    return runs[0].id if runs else ""


def _assert_delivered_once(store: Store, run_id: str, home: Path) -> None:
    run = store.get_run(run_id)
    assert run.status == "delivered", run.reason
    calls = store.calls(run_id=run_id)
    per_request = Counter((c.call_key, c.fingerprint) for c in calls)
    assert set(per_request.values()) == {1}, per_request  # the ledger: one row per call
    assert len(calls) == DEMO_CALLS
    repo = Repo(Path(store.get_project(run.project_id).repo_path))
    subjects = repo.git("log", "--format=%s", "main").splitlines()
    assert len(subjects) == len(store.tasks(run_id)) + 1  # one commit per task + the first
    assert len(set(subjects)) == len(subjects)
    # one mail of each kind across the two holders
    assert mail_kinds(home / "outbox") == {"accepted": 1, "plan_ready": 1, "delivered": 1}
    endings = [
        e.message for e in store.events(run_id) if e.kind == "run" and "delivered" in e.message
    ]
    assert len(endings) == 1


@pytest.mark.usefixtures("sandbox")
def test_a_worker_paused_past_its_lease_wakes_up_to_refused_writes(short_home: Path) -> None:
    # A: paused (SIGSTOP, every thread: its renewals too) right after T1's commit
    env = _env(short_home, VITCO_LEASE_TTL_S="1", VITCO_CRASH_AT="pause:after-commit")
    a = subprocess.Popen(
        [*command(PRELUDE), "run", str(BRIEF), "--model", f"replay:{CASSETTE}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait("A stops itself", lambda: _state(a.pid) == "T", 120)
        settings = Settings(home=short_home)
        store = open_store(settings)
        run_id = _the_run(store)
        leases = SqlRunLease(store.engine)
        stale = leases.inspect(run_id)
        assert stale is not None
        _wait("A's lease expires", lambda: not (leases.inspect(run_id) or stale).live, 10)

        # B: a worker takes the run over (A is alive, only stopped: it waited for the expiry)
        b = vitco(
            short_home, "worker", "--burst", "--json", extra_env={"VITCO_LEASE_TTL_S": "1"},
            standin=True,
        )  # fmt: skip
        assert b.returncode == 0, b.stderr[-3000:]
        assert json.loads(b.stdout)["resumed"] == [
            {"run_id": run_id, "status": "delivered", "reason": None}
        ]
        before = {
            "events": len(store.events(run_id)),
            "calls": len(store.calls(run_id=run_id)),
            "artifacts": len(store.artifacts(run_id)),
        }
    finally:
        a.send_signal(signal.SIGCONT)  # A wakes up and carries on from where it stood
    out, err = a.communicate(timeout=120)
    assert a.returncode != 0, out[-2000:]
    assert "lost the run's lease" in err, err[-3000:]
    # nothing A did after waking was recorded, and nothing was done twice
    assert len(store.events(run_id)) == before["events"]
    assert len(store.calls(run_id=run_id)) == before["calls"]
    assert len(store.artifacts(run_id)) == before["artifacts"]
    _assert_delivered_once(store, run_id, short_home)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT token FROM run_fences")).scalar() == stale.token + 1


@pytest.mark.usefixtures("sandbox")
def test_a_killed_workers_run_is_taken_over_within_15_s(
    short_home: Path, postgres_url: str
) -> None:
    db = {"VITCO_DATABASE_URL": postgres_url}
    env = _env(short_home, VITCO_CRASH_AT="pause:mid-task", **db)  # the default 10 s lease
    a = subprocess.Popen(
        [*command(PRELUDE), "run", str(BRIEF), "--model", f"replay:{CASSETTE}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait("A is mid-task", lambda: _state(a.pid) == "T", 120)
    finally:
        a.kill()  # kill -9 (it was held still only to kill it at a known point)
        a.wait()
    killed = time.time()
    store = open_store(Settings(home=short_home, database_url=postgres_url))
    run_id = _the_run(store)
    assert store.get_run(run_id).status == "running"

    # the recover loop of another "host": no local shortcut, the lease has to expire
    worker_env = _env(short_home, VITCO_LEASE_LOCAL_TAKEOVER="false", **db)
    worker = subprocess.Popen(
        [*command(PRELUDE), "worker", "--poll", "1", "--json"],
        env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait("the run delivered", lambda: store.get_run(run_id).status == "delivered", 120)
    finally:
        worker.send_signal(signal.SIGINT)
        worker.communicate(timeout=60)
    resumed = [
        e.message for e in store.events(run_id) if e.kind == "run" and "resumed" in e.message
    ]
    assert len(resumed) == 1  # by the worker, the only other process
    with store.engine.connect() as conn:
        token, taken_at = conn.execute(
            text("SELECT token, acquired_at FROM run_leases WHERE run_id = :r"), {"r": run_id}
        ).one()
    assert token == 2  # taken over once
    print(f"taken over {taken_at - killed:.1f} s after the kill")  # the figure, with -s
    assert 0 < taken_at - killed <= 15, taken_at - killed  # within the lease (same host clock)
    _assert_delivered_once(store, run_id, short_home)
