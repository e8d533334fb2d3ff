"""Figures of ``vitco serve``, each part in its own function, each against a ``vitco serve``
process (embedded mode: SQLite, the in-process worker) on a fresh data dir.

``projects``: ``GET /v1/projects`` (a page of 50 of the tenant's projects) from
``--concurrency`` clients at once: requests/s and latency p50/p99.

``webhooks``: signed ``POST /v1/hooks/generic`` deliveries (Standard Webhooks), each a brief
that becomes a project and a run of a trivial durable workflow (one checkpointed step that only
ends the run as delivered; template ``bench-trivial``, its step registered in the server
process), sent by ``--concurrency`` clients at once, executed by ``--workers`` ``vitco worker``
processes (the queue is the store's; default 2), each executing ``--at-once`` runs at a time
(default 1), with serve only accepting, or by serve's
embedded worker alone with ``--workers 0``. Alternated on this 2-core machine (quiet, the load
sent with aiohttp), serve + 2 workers gave 113.6/s at 12.6 ms of CPU an execution while serve
executed too (``VITCO_SERVE_WORKER``, 3 rounds; 2 more: 132/s) and 142.7/s at 10.4 ms while it
only accepted (3 rounds; 2 more: 163/s). Workers taking 1 run at a time beat 4 at a time once
SQLite's writers took turns (``vitco.store.turns``): 2 workers x 1, 255, 236, 218, 216 and
265/s against 2 x 4, 199, 186, 204, 168 and 206/s (rounds alternated); 3 workers x 1 were no
better than 2 (263, 204, 192, 216, 171/s; later 204, 305, 191 against 236, 302, 296/s). A
serve that executes shares its GIL between its accepts and its runs. ``--deliveries``
(default 1,000): the rate's ramp (the first batch accepted before any run can start) weighs
less than in 300. Figures: the accept
latency p50/p99 and accepted/s (each 202 is durable: project, brief, run and job committed
before it), then persisted executions/s, from the first delivery until every run is stored
finished. The target for this
kind of machine is 250 persisted executions/s; it is printed next to the figure. The CPU time
the vitco processes used meanwhile, per execution, is what it costs whatever else the machine
runs: on a shared machine the rates vary with the load, this much less.

``fanout``: event fan-out to WebSocket clients. A ``vitco serve`` process (embedded mode, a
fresh data dir) and, in this process, ``--clients`` (default 100) WebSocket clients of
``/v1/events?run_id=...``. This process writes events to the server's store, one at a time
``--interval`` apart (the latency from the write's commit to each client's receipt:
p50/p99/max over every client and event, and the time until the last client had each event),
then a burst of ``--burst`` events in one transaction (the time until every client had all
of them, as messages per second). The writer is another process and the server has no Redis,
so its in-process event bus cannot hear the writes: it reads the events table every 50 ms
while anyone listens (``vitco.api.live.POLL_S``), which bounds the latency's floor.

    python bench/api.py                    # every part, as text
    python bench/api.py --json             # one JSON object
    python bench/api.py --only webhooks    # one part
    python bench/api.py --database-url postgresql://postgres@127.0.0.1:5432/test
                                           # on PostgreSQL: a fresh database per part
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vitco.api.keys import issue  # noqa: E402
from vitco.api.live import POLL_S  # noqa: E402
from vitco.cli.run import DEMO_CASSETTE  # noqa: E402
from vitco.config import Settings  # noqa: E402
from vitco.store import AccessStore, Store, open_database, stats  # noqa: E402
from vitco.store.repo import TERMINAL  # noqa: E402


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SERVER: dict[str, str] = {}
"""``--database-url``: the PostgreSQL server each part makes a database of its own on (its
``admin`` URL), and the environment its vitco processes share (the key the hook secrets are
sealed with: a shared database has no key file)."""


def _vitco_env(home: Path) -> dict[str, str]:
    """The environment of a vitco process of the bench on data dir ``home``."""
    return {
        **os.environ,
        "VITCO_HOME": str(home),
        "VITCO_MODEL": f"replay:{DEMO_CASSETTE}",
        "VITCO_LOG_LEVEL": "WARNING",  # an access line a request would measure the terminal
        **{k: v for k, v in SERVER.items() if k.startswith("VITCO_")},
    }


@contextlib.contextmanager
def _database() -> Iterator[str | None]:
    """A fresh database on the ``--database-url`` server, dropped after the block (its
    SQLAlchemy URL); None: the data dir's SQLite file."""
    admin = SERVER.get("admin")
    if admin is None:
        yield None
        return
    import uuid

    import psycopg

    name = f"vitco_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        try:
            base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
            url = f"{base}/{name}"
            SERVER["VITCO_DATABASE_URL"] = url
            yield url
        finally:
            SERVER.pop("VITCO_DATABASE_URL", None)
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _vitco(prelude: str, *args: str) -> list[str]:
    """The command line of ``vitco ARGS`` that runs ``prelude`` (Python) first."""
    return [sys.executable, "-c", f"{prelude}\nfrom vitco.cli.app import main; main()", *args]


PIDS: list[int] = []
"""The vitco processes the bench runs now (``serving``, ``working``): ``_cpu_s`` reads them."""


def _cpu_s() -> float:
    """CPU seconds (user + system) the vitco processes of ``PIDS`` have used so far: what a
    figure costs whatever else the machine runs (a shared machine's load changes the rates,
    not this)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in PIDS:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def wait_until_up(process: subprocess.Popen[bytes], probe: str, what: str) -> None:
    """Wait (a minute at most) until ``probe`` answers 200; ``what`` did not start if the
    process ends first."""
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(probe, timeout=1).status_code == 200:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.1)


@contextlib.contextmanager
def serving(home: Path, prelude: str = "", *, executes: bool = True) -> Iterator[str]:
    """``vitco serve`` on a data dir, as its own process, until the block ends (``prelude``:
    Python run in that process first, e.g. to register a step; ``executes``: whether its
    embedded worker runs, ``VITCO_SERVE_WORKER``)."""
    port = _port()
    env = _vitco_env(home) | {
        "VITCO_API_RATE_BURST": "100000",  # the clients share one key
        "VITCO_SERVE_WORKER": "true" if executes else "false",
    }
    command = _vitco(prelude, "serve")
    process = subprocess.Popen([*command, "--port", str(port)], env=env, stdout=subprocess.DEVNULL)
    PIDS.append(process.pid)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, f"{url}/v1/health", "vitco serve")
        yield url
    finally:
        PIDS.remove(process.pid)
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def working(home: Path, count: int, prelude: str = "", at_once: int = 1) -> Iterator[None]:
    """``count`` ``vitco worker`` processes on the data dir (the queue is the store's, shared
    with the serving process), each executing ``at_once`` runs at a time, until the block ends.
    The block starts once each is ready (its ``/readyz``): the CPU a worker spends starting
    (about 2 s of imports and set-up) is not an execution's, as serve's is not."""
    ports = [_port() for _ in range(count)]
    processes = [
        subprocess.Popen(
            _vitco(
                prelude,
                "worker",  # its default poll: the queue's listen hears serve's jobs
                "--concurrency",
                str(at_once),
                "--health-port",
                str(port),
            ),
            env=_vitco_env(home),
            stdout=subprocess.DEVNULL,
        )
        for port in ports
    ]
    PIDS.extend(p.pid for p in processes)
    try:
        deadline = time.monotonic() + 60
        for process, port in zip(processes, ports, strict=True):
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("vitco worker did not start")
                time.sleep(0.1)
        yield
    finally:
        for process in processes:
            PIDS.remove(process.pid)
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Bench:
    """A fresh data dir with tenant ``bench`` and one key of ``role``."""

    tmp: Path
    home: Path
    sessions: sessionmaker[Session]
    store: Store
    key: str


@contextlib.contextmanager
def data_dir(role: str = "viewer", *, workflows: dict[str, str] | None = None) -> Iterator[Bench]:
    """A fresh data dir (``workflows``: templates to put in it) until the block ends."""
    with tempfile.TemporaryDirectory(prefix="vitco-bench-") as tmp, _database() as url:
        home = Path(tmp) / "home"
        for name, text in (workflows or {}).items():
            (home / "workflows").mkdir(parents=True, exist_ok=True)
            (home / "workflows" / f"{name}.yaml").write_text(text)
        sessions = open_database(Settings(home=home, database_url=url).resolved_database_url)
        access = AccessStore(sessions)
        access.create_tenant("bench", "Bench")
        key = issue(access, "bench", role)[1]
        yield Bench(Path(tmp), home, sessions, Store(sessions), key)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values) * 1000, 2),
        "p99_ms": round(_quantile(values, 0.99) * 1000, 2),
        "max_ms": round(max(values) * 1000, 2),
    }


TARGET_EXECUTIONS_PER_S = 250
"""The issue's target for persisted executions a second on this kind of machine."""

TRIVIAL = """name: bench-trivial
description: one step that does nothing; what a durable execution costs by itself
start: noop
nodes:
  noop: {type: tool, step: noop}
edges:
  - {from: noop, to: end}
"""
NOOP_STEP = """
from vitco.workflow.steps import step

@step("noop", level="project")
def noop(rt, state):
    return {"status": "delivered"}
"""


async def _load(send: Any, count: int, concurrency: int) -> tuple[list[float], float, list[int]]:
    """``send(i)`` for i in range(count), ``concurrency`` at a time: each one's latency, the
    wall time, and the statuses. The CPU this process spent meanwhile (the load's own cost,
    taken from the same 2 cores as the servers') goes to ``LOAD_CPU_MS``."""
    latencies: list[float] = []
    statuses: list[int] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            began = time.perf_counter()
            statuses.append(await send(i))
            latencies.append(time.perf_counter() - began)

    began, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    LOAD_CPU_MS.append(1000 * (time.process_time() - cpu) / max(count, 1))
    return latencies, time.perf_counter() - began, statuses


LOAD_CPU_MS: list[float] = []
"""The load's CPU per request, of each ``_load`` (milliseconds; the last is the latest)."""


def client(url: str, concurrency: int, headers: dict[str, str] | None = None) -> Any:
    """The load's HTTP client: aiohttp, ``concurrency`` keep-alive connections. The load runs
    on the servers' 2 cores, so what it costs is taken from them: httpx's ``AsyncClient`` cost
    3.0-3.6 ms of CPU a request here against 0.26-0.27 ms for aiohttp's (3,000 POSTs, 16 at
    once, to a server that only answers), which at 100 deliveries/s is a third of a core."""
    return aiohttp.ClientSession(
        base_url=url,
        headers=headers,
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=60),
    )


def projects(requests: int, concurrency: int) -> dict[str, Any]:
    """``GET /v1/projects`` under load (see the module docstring)."""
    with data_dir() as bench:
        key = bench.key
        for i in range(60):
            bench.store.create_project(f"p{i}", str(bench.tmp / f"r{i}"), tenant_id="bench")
        with serving(bench.home) as url:

            async def run() -> tuple[list[float], float, list[int]]:
                headers = {"Authorization": f"Bearer {key}"}
                async with client(url, concurrency, headers) as c:
                    async with c.get("/v1/projects") as first:  # the key verified once (argon2)
                        await first.read()

                    async def send(i: int) -> int:
                        async with c.get("/v1/projects", params={"limit": 50}) as answer:
                            await answer.read()
                            return answer.status

                    return await _load(send, requests, concurrency)

            latencies, wall, statuses = asyncio.run(run())
    return {
        "requests": requests,
        "concurrency": concurrency,
        "ok": statuses.count(200),
        "requests_per_s": round(requests / wall, 1),
        "latency": _ms(latencies),
        "load_cpu_ms_per_request": round(LOAD_CPU_MS[-1], 3),
    }


def webhooks(
    deliveries: int, concurrency: int, workers: int = 0, at_once: int = 1
) -> dict[str, Any]:
    """Signed webhooks that start a trivial durable workflow (see the module docstring)."""
    from vitco.integrations.webhooks.signing import standard_headers

    with data_dir("admin", workflows={"bench-trivial": TRIVIAL}) as bench:
        key, sessions = bench.key, bench.sessions
        with (
            serving(bench.home, prelude=NOOP_STEP, executes=workers == 0) as url,
            working(bench.home, workers, prelude=NOOP_STEP, at_once=at_once),
        ):
            admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"})
            answer = admin.put("/v1/hooks/generic/secret")
            answer.raise_for_status()
            secret = answer.json()["secret"]

            async def run() -> tuple[list[float], float, list[int]]:
                async with client(url, concurrency) as c:

                    async def send(i: int) -> int:
                        body = json.dumps(
                            {
                                "brief": f"# Bench {i}\n\nNothing to build.\n",
                                "workflow": "bench-trivial",
                            }
                        ).encode()
                        headers = standard_headers(secret, f"bench-{i}", int(time.time()), body)
                        headers["content-type"] = "application/json"
                        async with c.post(
                            "/v1/hooks/generic", params={"tenant": "bench"}, data=body,
                            headers=headers,
                        ) as answer:  # fmt: skip
                            await answer.read()
                            return answer.status

                    return await _load(send, deliveries, concurrency)

            began, cpu = time.perf_counter(), _cpu_s()
            latencies, wall, statuses = asyncio.run(run())
            finished, deadline = 0, time.monotonic() + 600
            statuses_of_runs: dict[str, int] = {}
            while time.monotonic() < deadline:
                statuses_of_runs = stats.runs_by_status(sessions)
                finished = sum(v for k, v in statuses_of_runs.items() if k in TERMINAL)
                if finished >= statuses.count(202):
                    break
                time.sleep(0.05)
            executed_s = time.perf_counter() - began
            cpu = _cpu_s() - cpu
            admin.close()
    return {
        "deliveries": deliveries,
        "concurrency": concurrency,
        "worker_processes": workers,
        "runs_at_once_per_worker": at_once,
        "accepted": statuses.count(202),
        "accepted_per_s": round(deliveries / wall, 1),
        "accept_latency": _ms(latencies),
        "runs": statuses_of_runs,
        "persisted_executions_per_s": round(finished / executed_s, 1),
        "target_executions_per_s": TARGET_EXECUTIONS_PER_S,
        "server_cpu_s": round(cpu, 2),
        "cpu_ms_per_execution": round(1000 * cpu / max(finished, 1), 2),
        "load_cpu_ms_per_request": round(LOAD_CPU_MS[-1], 3),
    }


async def _fanout(
    url: str,
    key: str,
    store: Store,
    run_id: str,
    clients: int,
    events: int,
    interval: float,
    burst: int,
) -> dict[str, Any]:
    received: list[dict[int, float]] = [{} for _ in range(clients)]
    ws_url = url.replace("http://", "ws://") + f"/v1/events?run_id={run_id}"
    headers = {"Authorization": f"Bearer {key}"}

    async def listen(index: int, ws: ClientConnection) -> None:
        mine = received[index]
        async for message in ws:
            mine[json.loads(message)["seq"]] = time.perf_counter()

    began = time.perf_counter()
    sockets = [
        await connect(ws_url, additional_headers=headers, max_queue=None) for _ in range(clients)
    ]
    connected_s = time.perf_counter() - began
    tasks = [asyncio.create_task(listen(i, ws)) for i, ws in enumerate(sockets)]

    async def until_all_have(seqs: list[int], timeout: float = 120) -> None:
        deadline = time.perf_counter() + timeout
        while not all(mine.keys() >= set(seqs) for mine in received):
            if time.perf_counter() > deadline:
                raise RuntimeError("not every client received every event")
            await asyncio.sleep(0.005)

    committed: dict[int, float] = {}
    for i in range(events):
        event = await asyncio.to_thread(store.add_event, run_id, "step", f"bench {i}")
        committed[event.id] = time.perf_counter()
        await asyncio.sleep(interval)
    await until_all_have(list(committed))
    each = [mine[seq] - t for mine in received for seq, t in committed.items()]
    last = [max(mine[seq] for mine in received) - t for seq, t in committed.items()]

    def write_burst() -> list[int]:
        with store.step():
            for i in range(burst):
                store.add_event(run_id, "step", f"burst {i}")
        return [e.id for e in store.events(run_id)][-burst:]

    began = time.perf_counter()
    seqs = await asyncio.to_thread(write_burst)
    await until_all_have(seqs)
    burst_s = time.perf_counter() - began
    for ws in sockets:
        await ws.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "clients": clients,
        "connect_all_s": round(connected_s, 3),
        "events": events,
        "interval_ms": round(interval * 1000, 1),
        "poll_ms": round(POLL_S * 1000, 1),
        "latency": _ms(each),
        "last_client": _ms(last),
        "burst": {
            "events": burst,
            "all_delivered_s": round(burst_s, 3),
            "messages_per_s": round(burst * clients / burst_s),
        },
    }


def fanout(clients: int, events: int, interval: float, burst: int) -> dict[str, Any]:
    """Event fan-out to ``clients`` WebSocket clients (see the module docstring)."""
    with data_dir() as bench:
        key, store = bench.key, bench.store
        project = store.create_project("bench", str(bench.tmp / "repo"), tenant_id="bench")
        brief = store.create_brief(project.id, "b.md", "# bench")
        run = store.create_run(project.id, brief.id, "m", "deliver-project")
        with serving(bench.home) as url:
            return asyncio.run(_fanout(url, key, store, run.id, clients, events, interval, burst))


PARTS = ("projects", "webhooks", "fanout")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--only", choices=PARTS, action="append", help="only this part")
    parser.add_argument("--requests", type=int, default=2000, help="GET /v1/projects requests")
    parser.add_argument("--deliveries", type=int, default=1000, help="signed webhooks sent")
    parser.add_argument("--concurrency", type=int, default=16, help="requests at once")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="vitco worker processes executing the webhooks' runs (0: vitco serve's own "
        "embedded worker executes them; otherwise serve only accepts)",
    )
    parser.add_argument(
        "--at-once", type=int, default=1, help="runs each vitco worker executes at a time"
    )
    parser.add_argument("--clients", type=int, default=100, help="WebSocket clients")
    parser.add_argument("--events", type=int, default=50, help="events written one at a time")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between them")
    parser.add_argument("--burst", type=int, default=1000, help="events written at once")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (postgresql://USER@HOST:PORT/DB, a database to connect to "
        "as admin): each part runs on a fresh database made there, dropped after it "
        "(default: the data dir's SQLite file)",
    )
    args = parser.parse_args()
    parts = args.only or PARTS
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "database": "sqlite",
    }
    if args.database_url:
        import base64

        SERVER["admin"] = args.database_url.replace("postgresql+psycopg://", "postgresql://")
        SERVER["VITCO_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()
        result["database"] = "postgresql"
    if "projects" in parts:
        result["projects"] = projects(args.requests, args.concurrency)
    if "webhooks" in parts:
        result["webhooks"] = webhooks(args.deliveries, args.concurrency, args.workers, args.at_once)
    if "fanout" in parts:
        result["fanout"] = fanout(args.clients, args.events, args.interval, args.burst)
    if args.json:
        print(json.dumps(result))
        return
    if "projects" in result:
        p = result["projects"]
        print(f"GET /v1/projects, {p['concurrency']} at once: {p['requests_per_s']} requests/s")
        row = p["latency"]
        print(f"  latency: p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, max {row['max_ms']} ms")
        print(f"  the load's own CPU: {p['load_cpu_ms_per_request']} ms a request")
    if "webhooks" in result:
        w = result["webhooks"]
        print(
            f"signed webhook -> trivial durable workflow, {w['concurrency']} at once: "
            f"{w['accepted']}/{w['deliveries']} accepted, {w['accepted_per_s']} accepted/s"
        )
        row = w["accept_latency"]
        print(f"  accept latency: p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms")
        print(
            f"  persisted executions: {w['persisted_executions_per_s']}/s "
            f"(target {w['target_executions_per_s']}/s); runs {w['runs']}"
        )
        print(
            f"  CPU of the vitco processes: {w['cpu_ms_per_execution']} ms an execution "
            f"(accepting it included), {w['server_cpu_s']} s in all; the load's own: "
            f"{w['load_cpu_ms_per_request']} ms a delivery"
        )
    if "fanout" not in result:
        return
    f = result["fanout"]
    print(
        f"event fan-out to {f['clients']} WebSocket clients (server polls every {f['poll_ms']} ms)"
    )
    print(f"  connect all: {f['connect_all_s']} s")
    for name, label in (
        ("latency", "commit -> each client"),
        ("last_client", "commit -> last client"),
    ):
        row = f[name]
        print(f"  {label}: p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, max {row['max_ms']} ms")
    b = f["burst"]
    print(
        f"  burst of {b['events']} events: all clients had all in {b['all_delivered_s']} s "
        f"({b['messages_per_s']} messages/s)"
    )


if __name__ == "__main__":
    main()
