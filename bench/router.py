"""What the router costs per call, and what it saves.

1. **Overhead**: the same request answered by a zero-latency in-process model directly, and
   through the router (tier choice, breaker, pricing from genai-prices, metrics), also with
   the SQLite response cache (a miss and a write per call) and on a cache hit. Rounds are
   interleaved so drift hits all variants alike; figures are medians in microseconds.
2. **Savings**: a mixed workload of tasks with complexities 1-10 (uniform, seeded; token counts
   grow with complexity) routed by the seed rule (>= 8 premium, >= 5 standard, else
   efficient) versus every call on the premium model, priced with real prices (genai-prices)
   for two model families: Claude opus/sonnet/haiku and GPT-4.1 / mini / nano.

    python bench/router.py            # a table
    python bench/router.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vitco.llm.breaker import BreakerBoard
from vitco.llm.cache import StoreResponseCache
from vitco.llm.model import CallKey, Message, ModelRequest, ModelResponse, Tier, Usage
from vitco.llm.router import Route, Router
from vitco.store.db import close_databases, open_database, open_engine

FAMILIES: dict[str, dict[Tier, str]] = {
    "claude": {
        "premium": "anthropic:claude-opus-5-5",
        "standard": "anthropic:claude-sonnet-5-5",
        "efficient": "anthropic:claude-haiku-5-5",
    },
    "gpt-4.1": {
        "premium": "openai:gpt-4.1",
        "standard": "openai:gpt-4.1-mini",
        "efficient": "openai:gpt-4.1-nano",
    },
}


class InstantModel:
    """Answers at once with fixed content and a usage chosen per call."""

    def __init__(self, model_id: str, usage: Callable[[ModelRequest], Usage]) -> None:
        self._id = model_id
        self._usage = usage

    @property
    def id(self) -> str:
        return self._id

    def request(self, request: ModelRequest) -> ModelResponse:
        return ModelResponse(content='{"ok":true}', usage=self._usage(request), model=self._id)


def _request(task: str, complexity: int, tier: Tier | None = None) -> ModelRequest:
    return ModelRequest(
        key=CallKey(role="developer", step="implement", task=task),
        messages=(
            Message(role="system", content="You are the developer."),
            Message(role="user", content=f"Implement task {task}."),
        ),
        output_name="Changeset",
        output_schema={"type": "object"},
        complexity=complexity,
        tier=tier,
    )


def _router(family: dict[Tier, str], usage: Callable[[ModelRequest], Usage], **kw: Any) -> Router:
    chains = {
        tier: [Route(InstantModel(mid, usage), mid.split(":")[0])] for tier, mid in family.items()
    }
    return Router(chains, breakers=BreakerBoard(), **kw)


def overhead(calls: int) -> dict[str, Any]:
    fixed = Usage(input_tokens=1200, output_tokens=400)
    family = FAMILIES["gpt-4.1"]
    direct = InstantModel(family["standard"], lambda r: fixed)
    plain = _router(family, lambda r: fixed)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'vitco.sqlite'}"
        open_database(url)  # the store's schema, where the cache's table lives
        cache = StoreResponseCache(open_engine(url))
        cached = _router(family, lambda r: fixed, cache=cache, cache_ttl_s=3600)
        hit_request = _request("HIT", 5)
        cached.request(hit_request)  # warm the entry the hit variant reads
        variants: dict[str, Callable[[int], object]] = {
            "direct": lambda i: direct.request(_request(f"T{i}", 5)),
            "router": lambda i: plain.request(_request(f"T{i}", 5)),
            "router+cache miss": lambda i: cached.request(_request(f"M{i}", 5)),
            "router+cache hit": lambda i: cached.request(hit_request),
        }
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for i in range(calls):
            for name, fn in variants.items():
                started = time.perf_counter()
                fn(i)
                samples[name].append((time.perf_counter() - started) * 1e6)
        close_databases(url)
    medians = {name: round(statistics.median(values), 1) for name, values in samples.items()}
    base = medians["direct"]
    return {
        "calls": calls,
        "median_us": medians,
        "overhead_us": {k: round(v - base, 1) for k, v in medians.items() if k != "direct"},
    }


def workload(tasks: int, seed: int) -> list[tuple[str, int, Usage]]:
    """Tasks with complexities 1-10 (uniform); bigger tasks read and write more tokens."""
    rng = random.Random(seed)
    out = []
    for n in range(tasks):
        complexity = rng.randint(1, 10)
        usage = Usage(
            input_tokens=int(rng.uniform(1500, 3000) + 600 * complexity),
            output_tokens=int(rng.uniform(200, 600) + 250 * complexity),
        )
        out.append((f"W{n}", complexity, usage))
    return out


def savings(tasks: int, seed: int) -> dict[str, Any]:
    jobs = workload(tasks, seed)
    usage_of = {task: usage for task, _, usage in jobs}
    result: dict[str, Any] = {
        "tasks": tasks,
        "complexities": dict(sorted(Counter(c for _, c, _ in jobs).items())),
    }
    for name, family in FAMILIES.items():
        router = _router(family, lambda r: usage_of[r.key.task or ""])
        routed = [router.request(_request(t, c)) for t, c, _ in jobs]
        premium = [router.request(_request(t, c, tier="premium")) for t, c, _ in jobs]
        routed_usd = sum(r.cost_usd for r in routed)
        premium_usd = sum(r.cost_usd for r in premium)
        result[name] = {
            "models": family,
            "calls_by_tier": dict(Counter(r.tier for r in routed)),
            "routed_usd": round(routed_usd, 4),
            "all_premium_usd": round(premium_usd, 4),
            "ratio": round(routed_usd / premium_usd, 3),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--calls", type=int, default=2000, help="calls per overhead variant")
    parser.add_argument("--tasks", type=int, default=1000, help="tasks in the mixed workload")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    report = {"overhead": overhead(args.calls), "savings": savings(args.tasks, args.seed)}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    over = report["overhead"]
    print(f"router overhead per call (median of {over['calls']}, zero-latency model):")
    for name, value in over["median_us"].items():
        extra = over["overhead_us"].get(name)
        print(f"  {name:<18} {value:>9.1f} us" + (f"   (+{extra:.1f} us)" if extra else ""))
    saved = report["savings"]
    print(f"\nmixed workload: {saved['tasks']} tasks, complexity 1-10 -> {saved['complexities']}")
    for name in FAMILIES:
        entry = saved[name]
        print(
            f"  {name:<8} routed ${entry['routed_usd']:.2f} vs all-premium "
            f"${entry['all_premium_usd']:.2f}: ratio {entry['ratio']:.3f}  {entry['calls_by_tier']}"
        )


if __name__ == "__main__":
    main()
