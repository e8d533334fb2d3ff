"""What keeping data costs a deploy: the scratch copy for smoke checks and the restart check.

Deploys the scripted notes app (uvicorn, a SQLite file in DATA_DIR; ``tests/workflow/
scripted.py``) in the real sandbox with its two chained smoke checks, in three ways, in turn
within each round: ``plain`` (no data dir: smoke against the app that stays up, one start),
``scratch`` (smoke on a copy of the live data, then the live start: two starts) and
``restart`` (the same plus a restart on the copy and a check after it: three starts). The live
data holds ``--data-mb`` MiB (a file the copy must carry). Figures are medians over
``--rounds`` (default 5) of the whole ``deploy_local`` in milliseconds, and, paired within a
round, the median extra over ``plain``.

    python bench/deploy.py            # a table
    python bench/deploy.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.workflow.scripted import NOTES_APP, NOTES_DEPLOY  # noqa: E402

from vitco.integrations.deploy import AppData, SmokeRequest, deploy_local  # noqa: E402
from vitco.integrations.git.repo import Repo  # noqa: E402
from vitco.sandbox import BwrapSandbox, Limits  # noqa: E402
from vitco.toolchains.python import ensure_venv  # noqa: E402

MODES = ("plain", "scratch", "restart")


def measure(rounds: int, data_mb: int) -> dict[str, object]:
    sandbox = BwrapSandbox().for_project(1)
    limits = Limits(cpu_s=60, memory_mb=1024, disk_mb=max(256, 4 * data_mb))
    smoke = [SmokeRequest.model_validate(s) for s in NOTES_DEPLOY["smoke"]]
    restart = [smoke[1]]
    samples: dict[str, list[float]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory(prefix="vitco-bench-") as tmp, httpx.Client() as client:
        ws = Path(tmp) / "notes"
        ws.mkdir()
        Repo.init(ws)
        (ws / "notes.py").write_text(NOTES_APP, encoding="utf-8")
        python = ensure_venv(sandbox, ws)
        data = AppData(Path(tmp) / "data", max_bytes=limits.disk_mb << 20)
        (data.live / "ballast").write_bytes(os.urandom(data_mb << 20))

        def deploy(mode: str) -> float:
            began = time.perf_counter()
            _, process = deploy_local(
                sandbox,
                client,
                ws,
                build=[],
                start=[str(part) for part in NOTES_DEPLOY["start"]],
                health_path="/health",
                smoke=smoke,
                python=python,
                limits=limits,
                env={"NOTES_DIR": "/tmp"} if mode == "plain" else None,
                data=None if mode == "plain" else data,
                restart=restart if mode == "restart" else None,
            )
            spent = (time.perf_counter() - began) * 1000
            process.stop()
            return spent

        for mode in MODES:  # warm up once, not measured
            deploy(mode)
        for _ in range(rounds):
            for mode in MODES:
                samples[mode].append(deploy(mode))
    figures: dict[str, object] = {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "rounds": rounds,
        "data_mb": data_mb,
    }
    for mode in MODES:
        figures[f"{mode}_ms"] = round(statistics.median(samples[mode]), 1)
        if mode != "plain":
            extra = [s - p for s, p in zip(samples[mode], samples["plain"], strict=True)]
            figures[f"{mode}_extra_paired_ms"] = round(statistics.median(extra), 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data-mb", type=int, default=8, help="MiB in the live data dir")
    args = parser.parse_args()
    figures = measure(args.rounds, args.data_mb)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"deploy of the notes app, median of {args.rounds} ({figures['machine']}, "
          f"{figures['cpus']} cpus), live data {args.data_mb} MiB")  # fmt: skip
    print(f"{'mode':<8} {'median ms':>10} {'extra over plain, paired ms':>28}")
    for mode in MODES:
        extra = figures.get(f"{mode}_extra_paired_ms", "")
        print(f"{mode:<8} {figures[f'{mode}_ms']:>10} {extra!s:>28}")


if __name__ == "__main__":
    main()
