"""Parallel tasks: wall time for N = 1, 2, 4, 8 independent tasks at a fixed model latency.

Each run delivers a scripted project whose plan has N tasks with no dependencies between them;
every model call (analyst, manager, then developer, reviewer and QA per task, devops) sleeps
``--latency`` seconds, like a remote model would. Tasks run concurrently up to ``--limit``. Tests
and deploys run in the real sandbox, the store is SQLite in a fresh data dir per run.

Each round runs every N in turn (1, 2, 4, 8, 1, 2, 4, 8, ...) so a drifting machine hits all
alike; one uncounted N = 1 run at zero latency warms the process up first (imports, templates).
Each run's wall time is split, from the timestamps of the run's events in the store, into:

- the **task phase**: from the first event of a task (a developer starts on it) to the last
  merge (the last ``commit`` event): what parallelism can shorten;
- the **serial part**: the rest of the wall time, which no N changes: setting up the project,
  analyze and plan, then integrate, deploy and deliver (3 model calls, the whole test suite,
  a deployment). The git worktree a task is started in is made just before its first event,
  so it counts here.

Figures are medians over ``--rounds`` (default 3): of each part in seconds, and of each round's
ratio to that round's N = 1 run, for the task phase (target <= 1.15 at N = 8 with limit >= 8)
and for the whole run (which the serial part dilutes).

    python bench/parallel.py [--latency 2.0] [--limit 8] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.workflow.scripted import (  # noqa: E402
    APPROVE,
    DEPLOY,
    SOUND,
    SPEC,
    calc,
    calc_tests,
    plan,
    script,
    write_brief,
)

from vitco.bootstrap import start_run  # noqa: E402
from vitco.config import Settings  # noqa: E402
from vitco.llm.model import Model, ModelRequest, ModelResponse  # noqa: E402
from vitco.store import open_store  # noqa: E402
from vitco.store.db import close_databases  # noqa: E402

PARTS = ("wall_s", "task_phase_s", "serial_s")


@dataclass
class Slow:
    """A scripted model that takes ``latency`` seconds per call, like a remote one."""

    inner: Model
    latency: float
    id: str = "bench:slow"

    def request(self, request: ModelRequest) -> ModelResponse:
        time.sleep(self.latency)
        return self.inner.request(request)


def answers(n: int) -> dict[str, object]:
    ids = [f"T{i}" for i in range(1, n + 1)]
    out: dict[str, object] = {
        "analyst/analyze#1": SPEC,
        "reviewer/check_spec#1": SOUND,
        "manager/plan#1": plan(*ids),
        "devops/deploy#1": DEPLOY,
    }
    for i, task in enumerate(ids, start=1):
        out[f"developer/implement/{task}#1"] = calc(module=f"calc{i}") | {"message": f"Add calc{i}"}
        out[f"reviewer/review/{task}#1"] = APPROVE
        out[f"qa/write_tests/{task}#1"] = calc_tests(f"calc{i}")
    return out


def one_run(n: int, latency: float, limit: int) -> dict[str, float]:
    """One delivery of N tasks: its wall time, task phase and serial part, in seconds."""
    home = Path(tempfile.mkdtemp(prefix="vp-"))
    settings = Settings(home=home, max_parallel=limit, database_url=None)
    try:
        model = Slow(script(answers(n)), latency)
        began = time.perf_counter()
        report = start_run(settings, write_brief(home), model=model).report
        wall = time.perf_counter() - began
        if report["status"] != "delivered" or report["commits"] != n:
            raise SystemExit(f"N={n} did not deliver: {report['reason']}")
        events = sorted(open_store(settings).events(report["run_id"]), key=lambda e: e.ts)
        first = next(e.ts for e in events if e.task is not None)
        last_merge = [e.ts for e in events if e.kind == "commit"][-1]
        task_phase = (last_merge - first).total_seconds()
        return {"wall_s": wall, "task_phase_s": task_phase, "serial_s": wall - task_phase}
    finally:
        close_databases(settings.resolved_database_url)
        shutil.rmtree(home, ignore_errors=True)


def measure(sizes: list[int], latency: float, limit: int, rounds: int) -> dict[str, Any]:
    one_run(1, 0.0, limit)  # warm-up, uncounted
    runs: dict[int, list[dict[str, float]]] = {n: [] for n in sizes}
    for _ in range(rounds):
        for n in sizes:
            runs[n].append(one_run(n, latency, limit))
    base = sizes[0]

    def median(n: int, part: str) -> float:
        return round(statistics.median(r[part] for r in runs[n]), 3)

    def ratio(n: int, part: str) -> float:
        pairs = zip(runs[n], runs[base], strict=True)
        return round(statistics.median(r[part] / b[part] for r, b in pairs), 3)

    figures: dict[str, Any] = {
        "latency_s": latency,
        "limit": limit,
        "rounds": rounds,
        "base_n": base,
    }
    for part in PARTS:
        figures[part] = {str(n): median(n, part) for n in sizes}
    figures["task_phase_ratio_to_one"] = {str(n): ratio(n, "task_phase_s") for n in sizes}
    figures["wall_ratio_to_one"] = {str(n): ratio(n, "wall_s") for n in sizes}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per model call")
    parser.add_argument("--limit", type=int, default=8, help="tasks run at once")
    parser.add_argument("--sizes", default="1,2,4,8", help="the N values; the first is the base")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    figures = measure(sizes, args.latency, args.limit, args.rounds)
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"model latency {args.latency}s per call, limit {args.limit}, "
        f"median of {args.rounds} rounds; ratios to N={sizes[0]}, paired per round"
    )
    print(f"{'N':>3} {'wall s':>8} {'tasks s':>8} {'serial s':>9} {'tasks ratio':>12} "
          f"{'wall ratio':>11}")  # fmt: skip
    columns = [figures[k] for k in (*PARTS, "task_phase_ratio_to_one", "wall_ratio_to_one")]
    for n in sizes:
        wall, tasks, serial, tasks_ratio, wall_ratio = (c[str(n)] for c in columns)
        print(f"{n:>3} {wall:>8.2f} {tasks:>8.2f} {serial:>9.2f} {tasks_ratio:>12.2f} "
              f"{wall_ratio:>11.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
