"""The reference issue 12's webhook target is set against, measured on this machine beside
vitco: a bare FastAPI + LangGraph + SQLite process, and ``vitco serve`` doing the same job.

Issue 12 asks for 250 persisted executions/s of a signed webhook that starts a trivial durable
workflow, and quotes a bare FastAPI + LangGraph + SQLite process at about 210-280/s on this
kind of machine. A quoted figure from another day and machine says little on a shared 2-core
machine whose load moves every rate: this bench measures that bare process here, alternated
with ``bench/api.py``'s webhook part (``vitco serve`` plus ``--workers`` ``vitco worker``
processes) in one run, ``--repeat`` times, and prints both rates and their ratio (vitco / bare,
the medians), which the machine's load moves much less than either rate.

The bare process (this file, ``--serve``; uvicorn with httptools and uvloop as ``vitco serve``
has them) does per delivery what a minimal service must: checks the Standard Webhooks
signature (the same HMAC-SHA256 as vitco's ``generic`` source), then runs a one-node
LangGraph graph with ``SqliteSaver`` and ``durability="sync"`` in a thread of the server's
pool, and answers once its checkpoints are committed; one SQLite connection (LangGraph's
saver serialises its writers with a lock of its own). It has none of what vitco adds: no
tenant, project, brief, run or job rows, no queue between the accept and the execution (the
client waits for the whole execution), no lease, fence, events or report. The load is the
same: ``--deliveries`` deliveries, ``--concurrency`` at once, one JSON brief each.

    python bench/baseline.py                        # a table
    python bench/baseline.py --json                 # one JSON object
    python bench/baseline.py --repeat 3 --workers 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import (  # noqa: E402
    LOAD_CPU_MS,
    TARGET_EXECUTIONS_PER_S,
    _load,
    _ms,
    _port,
    client,
    wait_until_up,
    webhooks,
)

SECRET = "whsec_" + "YmVuY2gtYmFyZS1zZWNyZXQtb2YtMzItYnl0ZXMhIQ=="  # the bench's own


def app(database: Path) -> Any:
    """The bare service: ``POST /hook`` verifies, executes and persists (module docstring)."""
    import sqlite3
    from typing import TypedDict

    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import END, START, StateGraph

    from vitco.integrations.webhooks import BadSignature, verify_standard

    class State(TypedDict, total=False):
        brief: str
        status: str

    def noop(state: State) -> State:
        return {"status": "delivered"}

    builder = StateGraph(State)
    builder.add_node("noop", noop)
    builder.add_edge(START, "noop")
    builder.add_edge("noop", END)
    conn = sqlite3.connect(database, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    saver = SqliteSaver(conn)
    saver.setup()
    graph = builder.compile(checkpointer=saver)
    api = FastAPI()

    def execute(thread_id: str, brief: str) -> str:
        config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
        final = graph.invoke({"brief": brief}, config, durability="sync")
        return str(final["status"])

    @api.post("/hook")
    async def hook(request: Request) -> dict[str, str]:
        body = await request.body()
        try:
            delivery = verify_standard(SECRET, body, request.headers, now=time.time())
        except BadSignature as exc:
            raise HTTPException(401, str(exc)) from exc
        brief = json.loads(body)["brief"]
        status = await asyncio.to_thread(execute, delivery, brief)
        return {"status": status}

    return api


def bare(deliveries: int, concurrency: int) -> dict[str, Any]:
    """The bare process under ``bench/api.py``'s webhook load: executions/s, latency, CPU."""
    from vitco.integrations.webhooks.signing import standard_headers

    port = _port()
    with tempfile.TemporaryDirectory(prefix="vitco-bench-bare-") as tmp:
        command = [sys.executable, __file__, "--serve", str(port), str(Path(tmp) / "bare.db")]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(process, f"{url}/docs", "the bare service")

            async def run() -> tuple[list[float], float, list[int]]:
                async with client(url, concurrency) as c:

                    async def send(i: int) -> int:
                        body = json.dumps({"brief": f"# Bench {i}\n\nNothing to build.\n"})
                        headers = standard_headers(
                            SECRET, f"bare-{i}", int(time.time()), body.encode()
                        )
                        headers["content-type"] = "application/json"
                        async with c.post("/hook", data=body, headers=headers) as answer:
                            await answer.read()
                            return answer.status

                    return await _load(send, deliveries, concurrency)

            cpu = _process_cpu_s(process.pid)
            latencies, wall, statuses = asyncio.run(run())
            cpu = _process_cpu_s(process.pid) - cpu
        finally:
            process.terminate()
            process.wait(20)
    done = statuses.count(200)
    return {
        "deliveries": deliveries,
        "executed": done,
        "executions_per_s": round(done / wall, 1),
        "latency": _ms(latencies),
        "cpu_ms_per_execution": round(1000 * cpu / max(done, 1), 2),
        "load_cpu_ms_per_request": round(LOAD_CPU_MS[-1], 3),
    }


def _process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve(port: int, database: Path) -> None:
    import uvicorn

    uvicorn.run(app(database), host="127.0.0.1", port=port, log_level="warning",
                loop="uvloop", http="httptools")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--deliveries", type=int, default=1000, help="signed webhooks a round")
    parser.add_argument("--concurrency", type=int, default=16, help="requests at once")
    parser.add_argument(
        "--workers", type=int, default=2, help="vitco worker processes (as bench/api.py)"
    )
    parser.add_argument(
        "--at-once", type=int, default=1, help="runs each vitco worker executes at a time"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds, alternating the order")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), Path(args.serve[1]))
        return
    rounds: dict[str, list[dict[str, Any]]] = {"bare": [], "vitco": []}
    for i in range(args.repeat):
        order = ("bare", "vitco") if i % 2 == 0 else ("vitco", "bare")
        for name in order:
            if name == "bare":
                rounds["bare"].append(bare(args.deliveries, args.concurrency))
            else:
                rounds["vitco"].append(
                    webhooks(args.deliveries, args.concurrency, args.workers, args.at_once)
                )
    bare_rate = statistics.median(r["executions_per_s"] for r in rounds["bare"])
    vitco_rate = statistics.median(r["persisted_executions_per_s"] for r in rounds["vitco"])
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "deliveries": args.deliveries,
        "concurrency": args.concurrency,
        "worker_processes": args.workers,
        "repeat": args.repeat,
        "bare_executions_per_s": bare_rate,
        "bare_rounds": [r["executions_per_s"] for r in rounds["bare"]],
        "bare_cpu_ms_per_execution": statistics.median(
            r["cpu_ms_per_execution"] for r in rounds["bare"]
        ),
        "vitco_executions_per_s": vitco_rate,
        "vitco_rounds": [r["persisted_executions_per_s"] for r in rounds["vitco"]],
        "vitco_cpu_ms_per_execution": statistics.median(
            r["cpu_ms_per_execution"] for r in rounds["vitco"]
        ),
        "ratio": round(vitco_rate / bare_rate, 3),
        "load_cpu_ms_per_request": round(
            statistics.median(
                r["load_cpu_ms_per_request"] for name in ("bare", "vitco") for r in rounds[name]
            ),
            3,
        ),
        "target_executions_per_s": TARGET_EXECUTIONS_PER_S,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"persisted executions/s, {args.concurrency} at once, medians of {args.repeat} rounds:")
    print(
        f"  bare FastAPI + LangGraph + SQLite: {bare_rate}/s {result['bare_rounds']}, "
        f"{result['bare_cpu_ms_per_execution']} ms of CPU each"
    )
    print(
        f"  vitco serve + {args.workers} worker(s):  {vitco_rate}/s {result['vitco_rounds']}, "
        f"{result['vitco_cpu_ms_per_execution']} ms of CPU each"
    )
    print(f"  vitco / bare: {result['ratio']} (target {TARGET_EXECUTIONS_PER_S}/s)")
    print(f"  the load's own CPU: {result['load_cpu_ms_per_request']} ms a delivery")


if __name__ == "__main__":
    main()
