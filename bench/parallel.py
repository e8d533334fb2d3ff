"""Parallel tasks: wall time for N = 1, 2, 4, 8 independent tasks at a fixed model latency.

Each run delivers a scripted project whose plan has N tasks with no dependencies between them;
every model call (analyst, manager, then developer, reviewer and QA per task, devops) sleeps
``--latency`` seconds, like a remote model would. Tasks run concurrently up to ``--limit``; the
ratio to the N = 1 run shows how close wall time stays to one task's time (target <= 1.15 at
N = 8 with limit >= 8). Tests and deploys run in the real sandbox.

    python bench/parallel.py [--latency 2.0] [--limit 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.workflow.scripted import (  # noqa: E402
    APPROVE,
    DEPLOY,
    SPEC,
    calc,
    calc_tests,
    plan,
    script,
    write_brief,
)

from vitco.bootstrap import start_run  # noqa: E402
from vitco.config import Settings  # noqa: E402
from vitco.llm.model import ModelRequest  # noqa: E402


def answers(n: int) -> dict[str, object]:
    ids = [f"T{i}" for i in range(1, n + 1)]
    out: dict[str, object] = {
        "analyst/analyze#1": SPEC,
        "manager/plan#1": plan(*ids),
        "devops/deploy#1": DEPLOY,
    }
    for i, task in enumerate(ids, start=1):
        out[f"developer/implement/{task}#1"] = calc(module=f"calc{i}") | {"message": f"Add calc{i}"}
        out[f"reviewer/review/{task}#1"] = APPROVE
        out[f"qa/write_tests/{task}#1"] = calc_tests(f"calc{i}")
    return out


def one_run(n: int, latency: float, limit: int) -> float:
    home = Path(tempfile.mkdtemp(prefix="vp-"))
    try:
        scripted = script(answers(n))

        class Slow:
            id = "bench:slow"

            def request(self, request: ModelRequest):  # type: ignore[no-untyped-def]
                time.sleep(latency)
                return scripted.request(request)

        settings = Settings(home=home, max_parallel=limit)
        began = time.perf_counter()
        report = start_run(settings, write_brief(home), model=Slow()).report  # type: ignore[arg-type]
        wall = time.perf_counter() - began
        if report["status"] != "delivered" or report["commits"] != n:
            raise SystemExit(f"N={n} did not deliver: {report['reason']}")
        return wall
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per model call")
    parser.add_argument("--limit", type=int, default=8, help="tasks run at once")
    parser.add_argument("--sizes", default="1,2,4,8")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    walls = {n: one_run(n, args.latency, args.limit) for n in sizes}
    base = walls[sizes[0]]
    result = {
        "latency_s": args.latency,
        "limit": args.limit,
        "wall_s": {str(n): round(w, 3) for n, w in walls.items()},
        "ratio_to_one": {str(n): round(w / base, 3) for n, w in walls.items()},
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"model latency {args.latency}s per call, limit {args.limit}")
    for n, wall in walls.items():
        print(f"  N={n:<2} wall {wall:7.2f} s   ratio {wall / base:5.2f}")


if __name__ == "__main__":
    main()
