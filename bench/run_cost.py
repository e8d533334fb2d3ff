"""What one ``bench-scale`` run costs its worker, run by run, in one process: CPU seconds of
the worker itself, of its children (git), of the PostgreSQL backends, and the statements and
git processes it sends and starts.

``bench/scale.py`` measures runs per minute of a fleet of separate processes, and its
``cpu_s`` says where the CPU went, summed over a configuration and muddied by what the machine
runs alongside. This is the same run, of the same workflow (``bench-scale``: the demo's spec,
plan, and each task implemented and merged), over the same backends (PostgreSQL: a fresh
database, removed afterwards; Redis: a key prefix of its own), executed one after the other by
a worker built as ``vitco worker`` builds it (``bootstrap.build_worker``), driven in this
process without its threads (a job taken, then ``EmbeddedWorker._run``), and the model's
latency 0 (``--latency`` to give it one): what is left is the CPU a run costs.

Figures per run, medians over ``--runs`` runs after ``--warmup`` (min and max beside):
``worker_cpu_s`` (``time.process_time``: every thread of this process, LangGraph's included),
``children_cpu_s`` (the git processes it waited for), ``postgres_cpu_s`` (the backends of the
bench's database), ``statements`` (every statement psycopg sent: the store's and LangGraph's
checkpoint saver's), ``git`` (git processes started). ``--detail N`` lists the N statements
and git subcommands sent most (per run); ``--profile N`` the N functions of most CPU
(``yappi``, every thread, if it is installed; not a dependency of vitco). CPU seconds are
counted in clock ticks (10 ms) and move with the machine's load: compare A and B alternated.

    python bench/run_cost.py                  # a table
    python bench/run_cost.py --json           # one JSON object
    python bench/run_cost.py --runs 10 --profile 40
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scale import (  # noqa: E402
    PRELUDE,
    WORKFLOW,
    _cpu_s,
    _database,
    _forget,
    add_servers,
)

from vitco.cli.run import DEMO_BRIEF, DEMO_CASSETTE  # noqa: E402
from vitco.config import Settings  # noqa: E402
from vitco.workflow.brief import parse_brief  # noqa: E402

exec(PRELUDE)  # bench-scale's last step, registered as bench/scale.py's processes do


_SQL: Counter[str] = Counter()  # statement text (its start) -> times sent, while counting
_GIT: Counter[str] = Counter()  # git subcommand -> processes started, while counting


@contextmanager
def _counting() -> Iterator[Counter[str]]:
    """Counts statements psycopg sends and git processes started, while in the block."""
    counts: Counter[str] = Counter()
    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany
    popen = subprocess.Popen.__init__

    def counted_execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["statements"] += 1
        _SQL[" ".join(str(args[0]).split())[:100] or "(empty: a pool's check)"] += 1
        return execute(self, *args, **kwargs)

    def counted_executemany(self: Any, query: Any, params_seq: Any, **kwargs: Any) -> Any:
        params = list(params_seq)
        counts["statements"] += len(params)
        return executemany(self, query, params, **kwargs)

    def counted_popen(self: Any, args: Any, *rest: Any, **kwargs: Any) -> None:
        first = args[0] if isinstance(args, list | tuple) else str(args).split()[0]
        counts["git" if os.path.basename(str(first)) == "git" else "other_processes"] += 1
        if isinstance(args, list | tuple) and os.path.basename(str(first)) == "git":
            words = [str(a) for a in args[1:]]
            while words and words[0].startswith("-"):  # the guards: -c name=value, ...
                words = words[2:] if words[0] == "-c" else words[1:]
            _GIT[words[0] if words else "?"] += 1
        popen(self, args, *rest, **kwargs)

    psycopg.Cursor.execute = counted_execute  # type: ignore[method-assign]
    psycopg.Cursor.executemany = counted_executemany  # type: ignore[method-assign]
    subprocess.Popen.__init__ = counted_popen  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        psycopg.Cursor.execute = execute  # type: ignore[method-assign]
        psycopg.Cursor.executemany = executemany  # type: ignore[method-assign]
        subprocess.Popen.__init__ = popen  # type: ignore[method-assign]


def _backends_cpu(admin: str, database: str) -> float:
    with psycopg.connect(admin, autocommit=True) as conn:
        pids = [
            int(pid)
            for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)
            )
        ]
    return sum(_cpu_s(pid)[0] for pid in pids)


def _spread(values: list[float], digits: int = 3) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def measure(
    runs: int,
    warmup: int,
    admin: str,
    redis_url: str,
    profile: int = 0,
    detail: int = 0,
    latency: float = 0.0,
) -> dict[str, Any]:
    from vitco.bootstrap import build_worker
    from vitco.workflow.runner import create_project

    tmp = Path(tempfile.mkdtemp(prefix="vitco-cost-"))
    prefix = f"vitco-bench:{uuid.uuid4().hex[:10]}:"
    try:
        with _database(admin) as database_url:
            home = tmp / "home"
            (home / "workflows").mkdir(parents=True)
            (home / "workflows" / "bench-scale.yaml").write_text(WORKFLOW, encoding="utf-8")
            settings = Settings(
                home=home,
                database_url=database_url,
                redis_url=redis_url,
                queue_prefix=prefix + "queue:",
                model=f"replay:{DEMO_CASSETTE}",
                replay_latency_s=latency,
                log_level="WARNING",
            )
            worker = build_worker(settings, concurrency=1)
            store, queue = worker.store, worker.queue
            database = database_url.rsplit("/", 1)[1]
            brief = parse_brief(DEMO_BRIEF.read_text(encoding="utf-8"), str(DEMO_BRIEF))

            def queued() -> str:  # what the API does, outside what is measured
                project_id, brief_id, base_sha = create_project(store, settings, brief)
                run = store.create_run(
                    project_id, brief_id, settings.model, "bench-scale", base_sha=base_sha
                )
                tenant = store.get_project(project_id).tenant_id
                queue.enqueue(run.id, "start", tenant=tenant, key=f"start:{run.id}")
                return run.id

            def executed(run_id: str) -> str:
                job = queue.take(worker.name, worker.lease_s)
                assert job is not None and job.run_id == run_id
                worker._run(job)
                return run_id

            for _ in range(warmup):
                executed(queued())
            rows: list[dict[str, float]] = []
            statuses: Counter[str] = Counter()
            stop_profile = _start_profile() if profile else None
            for _ in range(runs):
                run_id = queued()
                pg = _backends_cpu(admin, database)
                with _counting() as counts:
                    children = os.times()
                    began = time.process_time()
                    executed(run_id)
                    spent = time.process_time() - began
                    after = os.times()
                pg = _backends_cpu(admin, database) - pg
                statuses[store.get_run(run_id).status] += 1
                rows.append(
                    {
                        "worker_cpu_s": spent,
                        "children_cpu_s": after.children_user
                        + after.children_system
                        - children.children_user
                        - children.children_system,
                        "postgres_cpu_s": pg,
                        "statements": counts["statements"],
                        "git": counts["git"],
                    }
                )
            top = stop_profile(profile) if stop_profile else None
            worker.close(5)
    finally:
        _forget(redis_url, prefix)
        shutil.rmtree(tmp, ignore_errors=True)
    result: dict[str, Any] = {
        "runs": runs,
        "statuses": dict(statuses),
        **{name: _spread([row[name] for row in rows]) for name in rows[0]},
    }
    per_run = {"statement_kinds": _SQL, "git_commands": _GIT}
    for name, counter in per_run.items():
        result[name] = {k: round(n / runs, 1) for k, n in counter.most_common(detail)}
    if top is not None:
        result["profile"] = top
    return result


def _start_profile() -> Callable[[int], list[dict[str, Any]]]:
    import yappi  # type: ignore[import-untyped]

    yappi.set_clock_type("cpu")
    yappi.start()

    def stop(n: int) -> list[dict[str, Any]]:
        yappi.stop()
        stats = yappi.get_func_stats()
        stats.sort("ttot")
        top = [
            {
                "function": f"{s.name} ({Path(s.module).name}:{s.lineno})",
                "calls": s.ncall,
                "total_s": round(s.ttot, 3),
                "own_s": round(s.tsub, 3),
            }
            for s in list(stats)[:n]
        ]
        yappi.clear_stats()
        return top

    return stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--runs", type=int, default=6, help="runs measured")
    parser.add_argument("--warmup", type=int, default=2, help="runs before, not measured")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds per model call (bench/scale.py: 1)"
    )
    add_servers(parser)
    parser.add_argument(
        "--profile", type=int, default=0, help="list the N functions of most CPU (yappi)"
    )
    parser.add_argument(
        "--detail", type=int, default=0, help="list the N statements and git commands sent most"
    )
    args = parser.parse_args()
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        **measure(
            args.runs,
            args.warmup,
            args.database_url,
            args.redis_url,
            args.profile,
            args.detail,
            args.latency,
        ),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"one bench-scale run, model latency {args.latency} s, {args.runs} runs: "
        f"{result['statuses']}"
    )
    for name in ("worker_cpu_s", "children_cpu_s", "postgres_cpu_s", "statements", "git"):
        print(f"  {name}: {result[name]}")
    for name in ("statement_kinds", "git_commands"):
        for what, n in result[name].items():
            print(f"  {n:7.1f} {what}")
    for row in result.get("profile", []):
        print(f"  {row['total_s']:8.3f} {row['own_s']:8.3f} {row['calls']:7d} {row['function']}")


if __name__ == "__main__":
    main()
