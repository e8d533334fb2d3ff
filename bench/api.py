"""Figures of ``vitco serve``, each part in its own function.

``fanout``: event fan-out to WebSocket clients. A ``vitco serve`` process (embedded mode, a
fresh data dir) and, in this process, ``--clients`` (default 100) WebSocket clients of
``/v1/events?run_id=...``. This process writes events to the server's store, one at a time
``--interval`` apart (the latency from the write's commit to each client's receipt:
p50/p99/max over every client and event, and the time until the last client had each event),
then a burst of ``--burst`` events in one transaction (the time until every client had all
of them, as messages per second). The server polls the events table every 50 ms while
anyone listens (``vitco.api.live.POLL_S``), which bounds the latency's floor.

    python bench/api.py            # a table
    python bench/api.py --json     # one JSON object
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
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vitco.api.keys import issue  # noqa: E402
from vitco.api.live import POLL_S  # noqa: E402
from vitco.cli.run import DEMO_CASSETTE  # noqa: E402
from vitco.config import Settings  # noqa: E402
from vitco.store import AccessStore, Store, open_database  # noqa: E402


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(home: Path) -> Iterator[str]:
    """``vitco serve`` on a data dir, as its own process, until the block ends."""
    port = _port()
    env = {
        **os.environ,
        "VITCO_HOME": str(home),
        "VITCO_MODEL": f"replay:{DEMO_CASSETTE}",
        "VITCO_API_RATE_BURST": "100000",  # the clients share one key
    }
    command = [sys.executable, "-c", "from vitco.cli.app import main; main()", "serve"]
    process = subprocess.Popen([*command, "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("vitco serve did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values) * 1000, 2),
        "p99_ms": round(_quantile(values, 0.99) * 1000, 2),
        "max_ms": round(max(values) * 1000, 2),
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
    with tempfile.TemporaryDirectory(prefix="vitco-bench-") as tmp:
        home = Path(tmp) / "home"
        sessions = open_database(Settings(home=home).resolved_database_url)
        store, access = Store(sessions), AccessStore(sessions)
        access.create_tenant("bench", "Bench")
        key = issue(access, "bench", "viewer")[1]
        project = store.create_project("bench", str(Path(tmp) / "repo"), tenant_id="bench")
        brief = store.create_brief(project.id, "b.md", "# bench")
        run = store.create_run(project.id, brief.id, "m", "deliver-project")
        with serving(home) as url:
            return asyncio.run(_fanout(url, key, store, run.id, clients, events, interval, burst))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--clients", type=int, default=100, help="WebSocket clients")
    parser.add_argument("--events", type=int, default=50, help="events written one at a time")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between them")
    parser.add_argument("--burst", type=int, default=1000, help="events written at once")
    args = parser.parse_args()
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "fanout": fanout(args.clients, args.events, args.interval, args.burst),
    }
    if args.json:
        print(json.dumps(result))
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
