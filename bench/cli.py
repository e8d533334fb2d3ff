"""What a CLI call costs before it does anything: whole processes, wall and CPU time.

Each round runs, in turn, ``python -c pass`` (the interpreter's own start, the floor),
``python -c "import vitco.cli.app"``, ``vitco --help`` and ``vitco status --json``, the last on
a fresh temporary data dir holding one project (created once, in a setup step, through the
store). Every command runs once unmeasured first (bytecode, page cache); rounds are interleaved
so drift hits every command alike. Wall time is ``time.perf_counter`` around
``subprocess.run``; CPU time (user + system) is the ``getrusage(RUSAGE_CHILDREN)`` delta of
that one child. Figures are medians over ``--rounds`` (default 10), in milliseconds.

    python bench/cli.py            # a table
    python bench/cli.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vitco.config import Settings
from vitco.store import Store, open_database

VITCO = Path(sys.executable).with_name("vitco")  # the console script of this environment


def commands() -> dict[str, list[str]]:
    vitco = [str(VITCO)] if VITCO.is_file() else [sys.executable, "-m", "vitco.cli"]
    return {
        "python": [sys.executable, "-c", "pass"],
        "import": [sys.executable, "-c", "import vitco.cli.app"],
        "help": [*vitco, "--help"],
        "status": [*vitco, "status", "--json"],
    }


def setup(home: Path) -> str:
    """A data dir with one project in it (migrated by this process, not by the measured ones)."""
    settings = Settings(home=home, database_url=None)
    settings.ensure_dirs()
    store = Store(open_database(settings.resolved_database_url))
    project = store.create_project("bench", str(settings.projects_dir / "bench"))
    return project.id


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall ms, cpu ms, stdout) of one child process; a failing command stops the bench."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall * 1000, cpu * 1000, done.stdout


def measure(rounds: int) -> dict[str, object]:
    cmds = commands()
    samples: dict[str, dict[str, list[float]]] = {n: {"wall": [], "cpu": []} for n in cmds}
    with tempfile.TemporaryDirectory(prefix="vitco-bench-") as tmp:
        home = Path(tmp) / "home"
        project_id = setup(home)
        env = {k: v for k, v in os.environ.items() if k != "VITCO_DATABASE_URL"}
        env |= {"VITCO_HOME": str(home), "COLUMNS": "100"}
        for name, cmd in cmds.items():  # warm up once, not measured
            _, _, out = _run(cmd, env)
            if name == "status" and project_id not in out:
                raise SystemExit(f"vitco status did not list {project_id}:\n{out}")
        for _ in range(rounds):
            for name, cmd in cmds.items():
                wall, cpu, _ = _run(cmd, env)
                samples[name]["wall"].append(wall)
                samples[name]["cpu"].append(cpu)
    figures: dict[str, object] = {
        "rounds": rounds,
        "machine": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    for name, by_kind in samples.items():
        for kind, values in by_kind.items():
            figures[f"{name}_{kind}_ms"] = round(statistics.median(values), 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    figures = measure(args.rounds)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"CLI start cost, whole processes, median of {args.rounds} ({figures['machine']}, "
          f"{figures['cpus']} cpus, Python {figures['python']})")  # fmt: skip
    print(f"{'command':<34} {'wall ms':>9} {'cpu ms':>9}")
    labels = {
        "python": "python -c pass",
        "import": 'python -c "import vitco.cli.app"',
        "help": "vitco --help",
        "status": "vitco status --json (1 project)",
    }
    for name, label in labels.items():
        print(f"{label:<34} {figures[f'{name}_wall_ms']:>9} {figures[f'{name}_cpu_ms']:>9}")


if __name__ == "__main__":
    main()
