"""``vitco worker`` as real processes on a Redis queue: one executing two runs at once gets
SIGTERM mid-run, lets its running steps finish, hands both runs back and exits; another worker
resumes them at once and delivers them, no step done twice. Its probes answer meanwhile."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.jobs.holding import brief, write_template
from tests.processes import free_port
from vitco.config import Settings
from vitco.jobs.redis_queue import RedisRunQueue
from vitco.store import Store, open_store
from vitco.workflow.brief import load_brief
from vitco.workflow.runner import create_run

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.usefixtures("sandbox"), pytest.mark.slow]  # worker processes


@pytest.fixture
def env(short_home: Path, redis_prefix: str) -> dict[str, str]:
    write_template(short_home)
    base = {k: v for k, v in os.environ.items() if not k.startswith("VITCO_")}
    return base | {
        "VITCO_HOME": str(short_home),
        "VITCO_REDIS_URL": "redis://127.0.0.1:6379/0",
        "VITCO_QUEUE_PREFIX": redis_prefix,
        "VITCO_QUEUE_LEASE_S": "5",
        "PYTHONPATH": str(ROOT),
    }


@pytest.fixture
def workers(env: dict[str, str]) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.jobs.worker_main", "worker", "--poll", "0.2", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _queue_runs(home: Path, redis_client: Any, prefix: str, tmp: Path, *titles: str) -> list[str]:
    settings = Settings(home=home)
    store = open_store(settings)
    queue = RedisRunQueue(redis_client, prefix=prefix)
    runs = []
    for title in titles:
        run_id = create_run(store, settings, load_brief(brief(tmp, title)), "test", workflow="hold")
        queue.enqueue(run_id, "start")
        runs.append(run_id)
    return runs


def _count(store: Store, run_id: str, message: str) -> int:
    return sum(1 for e in store.events(run_id) if e.message == message)


def _until(predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _release(store: Store, run_id: str) -> None:
    (Path(store.get_project(store.get_run(run_id).project_id).repo_path) / "go").write_text("")


def test_sigterm_mid_run_hands_both_runs_to_another_worker(
    short_home: Path,
    redis_client: Any,
    redis_prefix: str,
    tmp_path: Path,
    workers: Callable[..., subprocess.Popen[str]],
) -> None:
    alpha, beta = _queue_runs(short_home, redis_client, redis_prefix, tmp_path, "Alpha", "Beta")
    store = open_store(Settings(home=short_home))
    port = free_port()
    first = workers("--concurrency", "2", "--health-port", str(port), "--json")
    assert first.stderr is not None
    both = lambda: all(_count(store, r, "hold started") == 1 for r in (alpha, beta))  # noqa: E731
    assert _until(both), first.stderr.read() if first.poll() is not None else "not started"
    probes = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{probes}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{probes}/readyz")
    assert ready.status_code == 200, ready.text
    assert httpx.post(f"{probes}/readyz").status_code == 405
    assert httpx.get(f"{probes}/../etc/passwd").status_code == 404

    second = workers("--concurrency", "2", "--json")
    first.send_signal(signal.SIGTERM)
    draining = lambda: httpx.get(f"{probes}/readyz").status_code == 503  # noqa: E731
    assert _until(draining, 20)
    assert "draining" in httpx.get(f"{probes}/readyz").json()["failed"]["worker"]
    assert first.poll() is None  # its steps are still running: it waits for them
    for run_id in (alpha, beta):
        _release(store, run_id)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err[-3000:]
    handed = json.loads(out)
    assert sorted(j["ending"] for j in handed["jobs"]) == ["released", "released"], handed

    delivered = lambda: all(store.get_run(r).status == "delivered" for r in (alpha, beta))  # noqa: E731
    assert _until(delivered, 90), [store.get_run(r).status for r in (alpha, beta)]
    second.send_signal(signal.SIGTERM)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err[-3000:]
    took = json.loads(out)
    assert {(j["run_id"], j["ending"], j["run_status"]) for j in took["jobs"]} == {
        (alpha, "done", "delivered"),
        (beta, "done", "delivered"),
    }
    for run_id in (alpha, beta):  # the step that finished during the shutdown is not redone
        assert _count(store, run_id, "hold started") == 1
        assert _count(store, run_id, "hold finished") == 1
        assert _count(store, run_id, "after ran") == 1
    stats = RedisRunQueue(redis_client, prefix=redis_prefix).stats()
    assert (stats.depth, stats.taken) == (0, 0)


def test_a_second_sigterm_hands_back_at_once(
    short_home: Path,
    redis_client: Any,
    redis_prefix: str,
    tmp_path: Path,
    workers: Callable[..., subprocess.Popen[str]],
) -> None:
    (alpha,) = _queue_runs(short_home, redis_client, redis_prefix, tmp_path, "Alpha")
    store = open_store(Settings(home=short_home))
    first = workers("--json")
    assert _until(lambda: _count(store, alpha, "hold started") == 1)
    first.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    first.send_signal(signal.SIGTERM)  # do not wait for the step: its command is killed
    out, err = first.communicate(timeout=30)
    assert first.returncode == 0, err[-3000:]
    assert [j["ending"] for j in json.loads(out)["jobs"]] == ["released"]
    assert _count(store, alpha, "hold finished") == 0

    second = workers("--json", "--burst")
    assert _until(lambda: _count(store, alpha, "hold started") == 2)  # the cut step again
    _release(store, alpha)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err[-3000:]
    assert store.get_run(alpha).status == "delivered"
    # its log lines are structured, as vitco serve's: each job's, with the run it is about
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(line.get("run_id") == alpha and "job" in line.get("event", "") for line in lines), (
        err[-3000:]
    )
    assert _count(store, alpha, "hold finished") == 1
