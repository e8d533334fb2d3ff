"""The demo's wall time, split into model time, test/deploy time and platform time.

Runs the demo brief over its cassette (the replay model answers in ~0 s, so model time is the
ledger's latency sum: zero here) in a fresh data dir, ``--runs`` times, and prints the median of
each part. Platform time is what is left: LangGraph steps and checkpoints, the store, git,
venv creation, validation.

    python bench/demo.py [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from vitco.bootstrap import start_run
from vitco.cli.run import DEMO_BRIEF, DEMO_CASSETTE
from vitco.config import Settings

BRIEF, CASSETTE = DEMO_BRIEF, DEMO_CASSETTE


def one_run(sandbox: str) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="vb-"))
    try:
        settings = Settings(home=home, sandbox=sandbox)  # type: ignore[arg-type]
        began = time.perf_counter()
        outcome = start_run(settings, BRIEF, model_id=f"replay:{CASSETTE}")
        wall = time.perf_counter() - began
        report = outcome.report
        if report["status"] != "delivered":
            raise SystemExit(f"demo did not deliver: {report['reason']}")
        timings = report["timings"]
        model = report["cost"]["model_s"]
        tests = timings.get("tests", 0.0)
        deploy = timings.get("deploy", 0.0)
        return {
            "wall_s": wall,
            "model_s": model,
            "tests_s": tests,
            "deploy_s": deploy,
            "platform_s": wall - model - tests - deploy,
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sandbox", default="bwrap", choices=["bwrap", "unsafe"])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    runs = [one_run(args.sandbox) for _ in range(args.runs)]
    figures = {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}
    result = {"runs": args.runs, "sandbox": args.sandbox, "median": figures}
    if args.json:
        print(json.dumps(result))
        return
    print(f"demo over {args.runs} runs (median, sandbox={args.sandbox}):")
    for name, value in figures.items():
        share = f"{100 * value / figures['wall_s']:5.1f}%" if name != "wall_s" else ""
        print(f"  {name:<11} {value:8.3f} s {share}")


if __name__ == "__main__":
    main()
