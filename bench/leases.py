"""What run leases cost: a fenced write against an unfenced one, and a lease's operations.

For the store's database (SQLite in a temporary dir, or PostgreSQL with ``--database-url``):

- **write**: ``store.add_event`` outside any fence and inside ``store.fenced`` (each write then
  also checks the run's fence row in its transaction), interleaved in rounds so a drifting
  machine hits both alike; medians of ms per write and the ratio fenced/unfenced;
- **acquire+release**, **renew**: ms per operation of the database lease, and of the Redis
  lease with ``--redis-url``.

    python bench/leases.py                # a table
    python bench/leases.py --json         # one JSON object
"""

from __future__ import annotations

import argparse
import json
import platform as host
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vitco.leases import RunLease
from vitco.leases.redis import RedisRunLease
from vitco.leases.sql import SqlRunLease
from vitco.store import Store, open_database


def _ms_per(fn: Callable[[], object], n: int) -> float:
    began = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - began) * 1000 / n


def _lease_ops(leases: RunLease, n: int) -> dict[str, float]:
    counter = iter(range(10**9))

    def cycle() -> None:
        got = leases.acquire(f"r-bench-{next(counter)}", "bench", 30)
        assert got is not None
        leases.release(got)

    held = leases.acquire("r-bench-renew", "bench", 30)
    assert held is not None
    figures = {
        "acquire_release_ms": _ms_per(cycle, n),
        "renew_ms": _ms_per(lambda: leases.renew(held, 30), n),
    }
    leases.release(held)
    return figures


def measure(writes: int, rounds: int, database_url: str | None, redis_url: str | None) -> Any:
    with tempfile.TemporaryDirectory(prefix="vitco-bench-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'vitco.sqlite'}"
        store = Store(open_database(url))
        project = store.create_project("bench", str(Path(tmp) / "repo"))
        brief = store.create_brief(project.id, "bench", "bench")
        run_id = store.create_run(project.id, brief.id, "test", "deliver-project").id
        leases = SqlRunLease(store.engine)
        lease = leases.acquire(run_id, "bench", 3600)
        assert lease is not None
        store.raise_fence(run_id, lease.token)
        plain, fenced = [], []
        for _ in range(rounds):
            plain.append(_ms_per(lambda: store.add_event(run_id, "bench", "x"), writes))
            with store.fenced(run_id, lease.token):
                fenced.append(_ms_per(lambda: store.add_event(run_id, "bench", "x"), writes))
        figures: dict[str, Any] = {
            "database": store.engine.dialect.name,
            "machine": f"{host.machine()} {host.python_version()}",
            "writes": writes,
            "rounds": rounds,
            "unfenced_write_ms": round(statistics.median(plain), 4),
            "fenced_write_ms": round(statistics.median(fenced), 4),
            "fenced_over_unfenced": round(
                statistics.median(f / p for f, p in zip(fenced, plain, strict=True)), 3
            ),
            "database_lease": {k: round(v, 4) for k, v in _lease_ops(leases, writes).items()},
        }
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url)
            prefix = f"vitco-bench:{time.time_ns()}:"
            try:
                ops = _lease_ops(RedisRunLease(client, prefix=prefix), writes)
                figures["redis_lease"] = {k: round(v, 4) for k, v in ops.items()}
            finally:
                for key in client.scan_iter(match=prefix + "*"):
                    client.delete(key)
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--writes", type=int, default=200, help="writes (operations) per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", help="a PostgreSQL URL; default: SQLite in a temp dir")
    parser.add_argument("--redis-url", help="also measure the Redis lease (redis://...)")
    args = parser.parse_args()
    figures = measure(args.writes, args.rounds, args.database_url, args.redis_url)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{figures['database']}, {figures['machine']}")
    print(f"  unfenced write  {figures['unfenced_write_ms']:8.3f} ms")
    print(f"  fenced write    {figures['fenced_write_ms']:8.3f} ms")
    print(f"  fenced / unfenced  {figures['fenced_over_unfenced']:.2f}x")
    for name in ("database_lease", "redis_lease"):
        if name in figures:
            ops = figures[name]
            print(f"  {name}: acquire+release {ops['acquire_release_ms']:.3f} ms, "
                  f"renew {ops['renew_ms']:.3f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
