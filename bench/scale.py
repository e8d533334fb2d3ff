"""Runs per minute for 1, 2 and 4 workers at a fixed model latency, and the scaling ratio.

A fleet as ``deploy/`` runs it, as separate processes on this machine: one ``vitco serve``
that queues runs and executes none (``VITCO_SERVE_WORKER=false``), K ``vitco worker
--concurrency 1`` processes, PostgreSQL and Redis (a fresh database and a key prefix of its
own on the servers given, removed afterwards). Each configuration receives the same ``--runs``
runs of the demo brief through the API, all at once, and is timed from the first submission
to the last run delivered.

The runs are bound by model latency, as real ones are: the demo cassette is replayed with
``VITCO_REPLAY_LATENCY_S`` per call, and the workflow (``bench-scale``) is the demo's spec,
plan, and each task implemented and merged into the project's repository (no sandboxed test
run, whose CPU would measure this machine's cores instead of the fleet). Target: 4 workers
>= 3.5x the runs per minute of one. Give ``--runs`` a multiple of the largest worker count:
runs go in rounds of one per worker (``ideal_ratio`` says what the runs allow at best).

    python bench/scale.py                  # a table
    python bench/scale.py --json           # one JSON object
    python bench/scale.py --runs 8 --latency 1.0 --workers 1,2,4
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vitco.api.keys import issue  # noqa: E402
from vitco.cli.run import DEMO_BRIEF, DEMO_CASSETTE  # noqa: E402
from vitco.client import VitcoClient  # noqa: E402
from vitco.store import AccessStore, open_database  # noqa: E402
from vitco.store.db import close_databases  # noqa: E402
from vitco.store.repo import TERMINAL  # noqa: E402

TARGET_RATIO = 3.5
WORKFLOW = """name: bench-scale
description: the demo's spec, plan, and each task implemented and merged (bench/scale.py)
start: analyze
nodes:
  analyze: {type: agent, role: analyst}
  plan: {type: agent, role: manager}
  tasks: {type: map, over: ready_tasks, flow: task}
  finish: {type: tool, step: bench_finish}
edges:
  - {from: analyze, to: plan}
  - {from: plan, to: tasks}
  - {from: tasks, to: finish, when: all_done}
  - {from: tasks, to: end, when: blocked}
  - {from: finish, to: end}
flows:
  task:
    start: implement
    nodes:
      implement: {type: agent, role: developer}
      commit: {type: tool, step: commit}
      give_up: {type: tool, step: give_up}
    edges:
      - {from: implement, to: commit, when: done}
      - {from: implement, to: give_up, when: disputed}
      - {from: commit, to: end, when: merged}
      - {from: commit, to: implement, when: retry, max: max_attempts}
      - {from: commit, to: give_up, when: give_up}
      - {from: give_up, to: end}
"""
# the last step of bench-scale, registered in every process before the CLI starts
PRELUDE = """
from vitco.workflow.steps import step

@step("bench_finish", level="project")
def bench_finish(rt, state):
    return {"status": "delivered"}
"""


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _vitco(*args: str) -> list[str]:
    return [sys.executable, "-c", f"{PRELUDE}\nfrom vitco.cli.app import main; main()", *args]


def _wait(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def _database(admin: str) -> Iterator[str]:
    import psycopg

    name = f"vitco_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}/{name}"
    try:
        yield url
    finally:
        close_databases(url)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _forget(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


def configuration(
    workers: int, runs: int, latency: float, admin: str, redis_url: str
) -> dict[str, Any]:
    """One fleet of ``workers`` workers: ``runs`` runs submitted at once, timed to the last."""
    tmp = Path(tempfile.mkdtemp(prefix="vitco-scale-"))
    prefix = f"vitco-bench:{uuid.uuid4().hex[:10]}:"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with _database(admin) as database_url:
            home = tmp / "home"  # the data dir every process shares, as on a shared volume
            (home / "workflows").mkdir(parents=True)
            (home / "workflows" / "bench-scale.yaml").write_text(WORKFLOW, encoding="utf-8")
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("VITCO_")},
                "VITCO_HOME": str(home),
                "VITCO_DATABASE_URL": database_url,
                "VITCO_REDIS_URL": redis_url,
                "VITCO_QUEUE_PREFIX": prefix + "queue:",
                "VITCO_MODEL": f"replay:{DEMO_CASSETTE}",
                "VITCO_REPLAY_LATENCY_S": str(latency),
                "VITCO_LOG_LEVEL": "WARNING",
                "VITCO_API_RATE_BURST": "100000",
            }
            access = AccessStore(open_database(database_url))
            access.create_tenant("bench", "Bench")
            key = issue(access, "bench", "manager")[1]
            port = _port()
            api = subprocess.Popen(
                _vitco("serve", "--port", str(port)),
                env=env | {"VITCO_SERVE_WORKER": "false"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            processes.append(api)
            url = f"http://127.0.0.1:{port}"
            _wait(f"{url}/v1/health", api, "vitco serve")
            for _ in range(workers):
                health = _port()
                worker = subprocess.Popen(
                    _vitco("worker", "--concurrency", "1", "--health-port", str(health),
                           "--poll", "0.5"),
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                processes.append(worker)
                _wait(f"http://127.0.0.1:{health}/readyz", worker, "vitco worker")
            brief = DEMO_BRIEF.read_text(encoding="utf-8")
            with VitcoClient.connect(url, key) as client:
                projects = [client.create_project(brief) for _ in range(runs)]
                began = time.monotonic()
                ids = [client.start_run(p.id, workflow="bench-scale").id for p in projects]
                statuses: dict[str, str] = {}
                deadline = began + max(600.0, runs * latency * 20)
                while len(statuses) < runs and time.monotonic() < deadline:
                    for run_id in ids:
                        if run_id not in statuses:
                            status = client.run(run_id).status
                            if status in TERMINAL:
                                statuses[run_id] = status
                    time.sleep(0.2)
                wall = time.monotonic() - began
            for process in processes:
                _stop(process)
            processes.clear()
            delivered = sum(1 for s in statuses.values() if s == "delivered")
            return {
                "workers": workers,
                "runs": runs,
                "delivered": delivered,
                "wall_s": round(wall, 2),
                "runs_per_min": round(delivered / wall * 60, 2),
            }
    finally:
        for process in processes:
            _stop(process)
        _forget(redis_url, prefix)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--runs", type=int, default=8, help="runs per configuration")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per model call")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL database to create the bench's own database from",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="Redis")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    rows = [
        configuration(n, args.runs, args.latency, args.database_url, args.redis_url) for n in counts
    ]
    by = {row["workers"]: row for row in rows}
    ratio = ideal = None
    if 1 in by and max(by) > 1 and by[1]["runs_per_min"]:
        ratio = round(by[max(by)]["runs_per_min"] / by[1]["runs_per_min"], 2)
        # runs go in rounds of one per worker: 6 runs on 4 workers take 2 rounds, not 1.5
        ideal = round(args.runs / math.ceil(args.runs / max(by)), 2)
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "model_latency_s": args.latency,
        "configurations": rows,
        "ratio": ratio,
        "ratio_of": f"{max(by)} workers vs 1" if ratio is not None else None,
        "ideal_ratio": ideal,
        "target_ratio": TARGET_RATIO,
        "target_met": ratio is not None and ratio >= TARGET_RATIO,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"model latency {args.latency} s per call, {args.runs} runs per configuration")
    for row in rows:
        print(
            f"  {row['workers']} worker(s): {row['runs_per_min']} runs/min "
            f"({row['delivered']}/{row['runs']} delivered in {row['wall_s']} s)"
        )
    if ratio is not None:
        print(f"  {result['ratio_of']}: {ratio}x (target {TARGET_RATIO}x, {ideal}x at best)")


if __name__ == "__main__":
    main()
