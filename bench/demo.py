"""The demo's wall time split into model, tests, deploy and platform time; start-up apart.

Each round (``--rounds``, default 3) delivers the demo brief over its cassette twice, in turn,
each time in a fresh data dir (SQLite):

- **in process**: ``vitco.bootstrap.start_run`` in this process, timed around the call, and
  split into model time (the ledger's latency sum: a replay answers in ~0 s, so zero here),
  tests and deploy (the run's ``timings``: time spent in the toolchain's test and ship calls,
  less the venv creation inside them), and platform time: what is left, i.e. LangGraph steps
  and checkpoints, the store, git, validation, and venv creation, also shown apart (``venv_s``,
  part of ``platform_s``). The run's timings count a project venv made in the sandbox under
  tests (or deploy), so this process wraps ``ensure_venv`` to time it and moves it to platform;
- **process**: ``vitco demo --json`` as a whole process (fresh ``VITCO_HOME``), timed around
  ``subprocess.run``; start-up is its wall time minus the same round's in-process wall time:
  the interpreter's start, imports, the CLI, printing the report.

The demo's tasks depend on one another and run one after another, so the timing sums are wall
time. One run of each, uncounted, warms up first (imports, bytecode, page cache). Figures are
medians over the rounds, start-up the median of each round's difference.

    python bench/demo.py [--rounds 3] [--sandbox bwrap] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

from vitco.bootstrap import start_run
from vitco.cli.run import DEMO_BRIEF, DEMO_CASSETTE
from vitco.config import Settings
from vitco.sandbox.protocol import Sandbox
from vitco.store.db import close_databases
from vitco.toolchains import python, python_cli, python_library, python_service

BRIEF, CASSETTE = DEMO_BRIEF, DEMO_CASSETTE
VITCO = Path(sys.executable).with_name("vitco")  # the console script of this environment
PARTS = ("wall_s", "model_s", "tests_s", "deploy_s", "platform_s", "venv_s")  # venv in platform

# Where ensure_venv is called from, and the timing bucket that call falls in: run_tests (in
# python) runs inside a test step's "tests", the toolchains' ship inside "deploy".
CALLERS: dict[ModuleType, str] = {
    python: "tests",
    python_service: "deploy",
    python_cli: "deploy",
    python_library: "deploy",
}


class VenvClock:
    """Seconds spent in ``ensure_venv``, by the timing bucket of its caller."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def timed(self, bucket: str, fn: Callable[[Sandbox, Path], Path]) -> Callable[..., Path]:
        def ensure_venv(sandbox: Sandbox, root: Path) -> Path:
            began = time.perf_counter()
            try:
                return fn(sandbox, root)
            finally:
                with self._lock:
                    elapsed = time.perf_counter() - began
                    self.seconds[bucket] = self.seconds.get(bucket, 0.0) + elapsed

        return ensure_venv

    @contextmanager
    def watching(self) -> Iterator[VenvClock]:
        with ExitStack() as stack:
            for module, bucket in CALLERS.items():
                wrapped = self.timed(bucket, module.ensure_venv)
                stack.enter_context(mock.patch.object(module, "ensure_venv", wrapped))
            yield self


def in_process(sandbox: str, clock: VenvClock) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="vb-"))
    settings = Settings(home=home, sandbox=sandbox, database_url=None)
    clock.seconds.clear()
    try:
        began = time.perf_counter()
        outcome = start_run(settings, BRIEF, model_id=f"replay:{CASSETTE}")
        wall = time.perf_counter() - began
        report = outcome.report
        if report["status"] != "delivered":
            raise SystemExit(f"demo did not deliver: {report['reason']}")
        timings = report["timings"]
        model = report["cost"]["model_s"]
        venv_tests, venv_deploy = clock.seconds.get("tests", 0.0), clock.seconds.get("deploy", 0.0)
        tests = timings.get("tests", 0.0) - venv_tests
        deploy = timings.get("deploy", 0.0) - venv_deploy
        return {
            "wall_s": wall,
            "model_s": model,
            "tests_s": tests,
            "deploy_s": deploy,
            "venv_s": venv_tests + venv_deploy,
            "platform_s": wall - model - tests - deploy,
        }
    finally:
        close_databases(settings.resolved_database_url)
        shutil.rmtree(home, ignore_errors=True)


def whole_process(sandbox: str) -> float:
    """The wall time of ``vitco demo --json`` as a process of its own, fresh data dir."""
    home = Path(tempfile.mkdtemp(prefix="vb-"))
    vitco = [str(VITCO)] if VITCO.is_file() else [sys.executable, "-m", "vitco.cli"]
    env = {k: v for k, v in os.environ.items() if k != "VITCO_DATABASE_URL"}
    env |= {"VITCO_HOME": str(home), "VITCO_SANDBOX": sandbox}
    try:
        began = time.perf_counter()
        done = subprocess.run(
            [*vitco, "demo", "--json"], env=env, capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - began
        if done.returncode != 0 or json.loads(done.stdout)["status"] != "delivered":
            raise SystemExit(f"vitco demo exited {done.returncode}:\n{done.stderr}")
        return wall
    finally:
        shutil.rmtree(home, ignore_errors=True)


def measure(rounds: int, sandbox: str) -> dict[str, Any]:
    runs: list[dict[str, float]] = []
    processes: list[float] = []
    with VenvClock().watching() as clock:
        in_process(sandbox, clock)  # warm-up, uncounted
        whole_process(sandbox)
        for _ in range(rounds):
            runs.append(in_process(sandbox, clock))
            processes.append(whole_process(sandbox))
    median = {k: round(statistics.median(r[k] for r in runs), 3) for k in PARTS}
    startup = statistics.median(p - r["wall_s"] for p, r in zip(processes, runs, strict=True))
    return {
        "rounds": rounds,
        "sandbox": sandbox,
        "median": median,
        "process_wall_s": round(statistics.median(processes), 3),
        "startup_s": round(startup, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sandbox", default="bwrap", choices=["bwrap", "unsafe"])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    figures = measure(args.rounds, args.sandbox)
    if args.json:
        print(json.dumps(figures))
        return
    median = figures["median"]
    print(f"demo, median of {args.rounds} rounds, sandbox={args.sandbox}")
    print(f"  in process        {median['wall_s']:8.3f} s")
    for name in PARTS[1:]:
        label = "  of which venv" if name == "venv_s" else name
        share = 100 * median[name] / median["wall_s"]
        print(f"    {label:<16}{median[name]:8.3f} s {share:5.1f}%")
    print(f"  process           {figures['process_wall_s']:8.3f} s (vitco demo --json)")
    print(f"    startup_s       {figures['startup_s']:8.3f} s (process minus in process, paired)")


if __name__ == "__main__":
    main()
