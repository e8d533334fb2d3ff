"""What one persisted execution costs by itself: the CPU of accepting a signed webhook and of
executing its trivial durable run, one after the other in one process, and the statements
each sends to the store.

``bench/api.py webhooks`` measures the same work through HTTP, 16 deliveries at once, across
``vitco serve`` and a ``vitco worker``: a shared machine's load moves its figures, and the
threads' contention is in them. Here nothing runs alongside: the app of ``vitco serve``
(``bootstrap.build_api``, embedded mode: SQLite in a fresh data dir, the store's queue) is
built in this process without serving it, and each delivery is read and accepted as the
webhook route does (``api.hooks.read`` and ``accept``: the signature, the delivery's claim, the
project, brief, run and job, the delivery's ending), then its job is taken and executed by
the app's worker (``EmbeddedWorker._run``: the run's lease, fence, checkpoints, events,
report, the job's ending). The template is ``bench/api.py``'s ``bench-trivial`` (one
checkpointed step that only ends the run delivered).

Figures: milliseconds of CPU (``time.process_time``: every thread of this process, LangGraph's
checkpoint writers included) per delivery for each half, medians over ``--rounds`` rounds of
``--deliveries`` each, after a warm-up; statements per delivery (the store's engine; the
checkpoints' SQLite file is LangGraph's own connection and not counted).

    python bench/execution.py            # a table
    python bench/execution.py --json     # one JSON object
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
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import NOOP_STEP, TRIVIAL  # noqa: E402
from sqlalchemy import event  # noqa: E402

from vitco.api import hooks  # noqa: E402
from vitco.cli.run import DEMO_CASSETTE  # noqa: E402
from vitco.config import Settings  # noqa: E402
from vitco.integrations.webhooks import new_secret  # noqa: E402
from vitco.integrations.webhooks.signing import standard_headers  # noqa: E402
from vitco.store import AccessStore, stats  # noqa: E402

exec(NOOP_STEP)  # the bench-trivial template's step, registered as in bench/api.py's server


def measure(deliveries: int, rounds: int) -> dict[str, Any]:
    from vitco.bootstrap import build_api

    with tempfile.TemporaryDirectory(prefix="vitco-bench-") as tmp:
        home = Path(tmp) / "home"
        (home / "workflows").mkdir(parents=True)
        (home / "workflows" / "bench-trivial.yaml").write_text(TRIVIAL)
        settings = Settings(home=home, model=f"replay:{DEMO_CASSETTE}")
        ctx = build_api(settings).state.vitco  # its worker is not started: driven below
        AccessStore(ctx.store.sessions).create_tenant("bench", "Bench")
        secret = new_secret()
        ctx.hooks.set_secret("bench", "generic", secret)
        worker = ctx.runs
        statements: Counter[str] = Counter()
        phase = ["setup"]

        @event.listens_for(ctx.store.engine, "before_cursor_execute")
        def count(*_: Any) -> None:
            statements[phase[0]] += 1

        def accept(i: int) -> None:
            body = json.dumps(
                {"brief": f"# Bench {i}\n\nNothing to build.\n", "workflow": "bench-trivial"}
            ).encode()
            signed = standard_headers(secret, f"bench-{i}", int(time.time()), body)
            headers = {name.lower(): value for name, value in signed.items()}
            delivery = hooks.read("generic", ctx.hooks.secret("bench", "generic"), body, headers)
            status, _ = hooks.accept(ctx, "bench", delivery)
            assert status == 202, status

        def execute() -> None:
            job = ctx.queue.take(worker.name, worker.lease_s)
            assert job is not None
            worker._run(job)

        for i in range(5):  # warm-up: imports, caches, the first checkpoint saver
            accept(-1 - i)
            execute()
        cpu: dict[str, list[float]] = {"accept": [], "execute": []}
        statements.clear()
        n = 0
        for _ in range(rounds):
            spent = {"accept": 0.0, "execute": 0.0}
            for _ in range(deliveries):
                phase[0] = "accept"
                began = time.process_time()
                accept(n)
                spent["accept"] += time.process_time() - began
                phase[0] = "execute"
                began = time.process_time()
                execute()
                spent["execute"] += time.process_time() - began
                n += 1
            for name, total in spent.items():
                cpu[name].append(1000 * total / deliveries)
        runs = stats.runs_by_status(ctx.store.sessions)
    medians = {name: round(statistics.median(values), 2) for name, values in cpu.items()}
    return {
        "deliveries": deliveries,
        "rounds": rounds,
        "cpu_ms": medians | {"total": round(sum(medians.values()), 2)},
        "cpu_ms_rounds": {name: [round(v, 2) for v in values] for name, values in cpu.items()},
        "statements": {name: round(count / n, 1) for name, count in statements.items()},
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--deliveries", type=int, default=200, help="deliveries a round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (medians over them)")
    args = parser.parse_args()
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        **measure(args.deliveries, args.rounds),
    }
    if args.json:
        print(json.dumps(result))
        return
    cpu, said = result["cpu_ms"], result["statements"]
    print(f"one persisted execution, in process ({args.rounds} x {args.deliveries} deliveries):")
    print(f"  accept:  {cpu['accept']} ms of CPU, {said.get('accept', 0)} statements")
    print(f"  execute: {cpu['execute']} ms of CPU, {said.get('execute', 0)} statements")
    print(f"  total:   {cpu['total']} ms of CPU; runs {result['runs']}")


if __name__ == "__main__":
    main()
