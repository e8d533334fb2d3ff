"""Prometheus metrics: one registry for vitco, the series this process keeps, and the
collector that reads the state of the store at scrape time.

A registry of our own (not prometheus-client's global one) so that an embedding application's
metrics and ours never collide, and so ``vitco serve`` exposes exactly vitco's series
(``/metrics``, see ``vitco.api.metrics``).

Counted where it happens, in this process:

- ``vitco_model_calls_total{provider, model, tier, role, outcome}``: every request that
  reached a provider or the response cache (``outcome`` as in ``vitco.llm.meter.OUTCOMES``);
  counted by the run's meter, the one place every request passes (``record_model_call``);
- ``vitco_model_tokens_total{provider, model, tier, role, direction}``: input and output tokens
  a provider processed (a cached answer's are not counted);
- ``vitco_model_cost_usd_total{provider, model, tier, role}``: spend;
- ``vitco_model_cache_hits_total{provider, model, tier, role}``: answers from the cache;
- ``vitco_model_retries_total{model}``: failed tries that were followed by another try;
- ``vitco_breaker_state{provider}``: 0 closed, 1 half-open, 2 open;
- ``vitco_step_duration_seconds{node}``: how long each workflow node's step took;
- ``vitco_http_requests_total{method, route, status}`` and
  ``vitco_http_request_duration_seconds{method, route}``: the API's requests, by route template
  (``/v1/runs/{run_id}``, never the raw path: an id per series would grow without bound).

Read from the store and the run queue when scraped (``StoreCollector``), so they are right
whichever process changed them: ``vitco_runs{status}`` (runs by status), and what an autoscaler
scales workers on: ``vitco_queue_depth`` (jobs waiting for a worker),
``vitco_runs_in_progress`` (jobs held by a worker) and ``vitco_queue_oldest_lease_seconds``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

__all__ = [
    "BREAKER_STATE",
    "HTTP_DURATION",
    "HTTP_REQUESTS",
    "MODEL_CACHE_HITS",
    "MODEL_CALLS",
    "MODEL_COST",
    "MODEL_RETRIES",
    "MODEL_TOKENS",
    "REGISTRY",
    "STEP_DURATION",
    "Joined",
    "StoreCollector",
    "record_model_call",
]

REGISTRY = CollectorRegistry(auto_describe=True)

_CALL = ["provider", "model", "tier", "role"]

MODEL_CALLS = Counter(
    "vitco_model_calls",
    "Requests to a provider or the response cache, by outcome (ok, cached, rate_limited...).",
    [*_CALL, "outcome"],
    registry=REGISTRY,
)
MODEL_TOKENS = Counter(
    "vitco_model_tokens",
    "Tokens of model requests, by direction (input, output).",
    [*_CALL, "direction"],
    registry=REGISTRY,
)
MODEL_COST = Counter(
    "vitco_model_cost_usd",
    "Spend on model requests in USD.",
    _CALL,
    registry=REGISTRY,
)
MODEL_CACHE_HITS = Counter(
    "vitco_model_cache_hits",
    "Model answers served from the response cache (no provider request, no cost).",
    _CALL,
    registry=REGISTRY,
)
MODEL_RETRIES = Counter(
    "vitco_model_retries",
    "Failed model tries that were followed by another try.",
    ["model"],
    registry=REGISTRY,
)
BREAKER_STATE = Gauge(
    "vitco_breaker_state",
    "Circuit breaker state per provider: 0 closed, 1 half-open, 2 open.",
    ["provider"],
    registry=REGISTRY,
)
STEP_DURATION = Histogram(
    "vitco_step_duration_seconds",
    "How long a workflow node's step took (failed steps included).",
    ["node"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "vitco_http_requests",
    "API requests by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "vitco_http_request_duration_seconds",
    "How long the API took to answer, by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
    registry=REGISTRY,
)


def record_model_call(
    *,
    model: str,
    tier: str | None,
    role: str,
    outcome: str,
    input_tokens: int,
    output_tokens: int,
    cost_usd: float,
) -> None:
    """Count one request to ``model`` (a ``provider:name`` id) made for ``role``. Tokens are
    those a provider processed: a cached answer's are not counted again."""
    labels = (model.partition(":")[0] or model, model, tier or "", role)
    MODEL_CALLS.labels(*labels, outcome).inc()
    if outcome == "cached":
        MODEL_CACHE_HITS.labels(*labels).inc()
        return
    if input_tokens:
        MODEL_TOKENS.labels(*labels, "input").inc(input_tokens)
    if output_tokens:
        MODEL_TOKENS.labels(*labels, "output").inc(output_tokens)
    if cost_usd:
        MODEL_COST.labels(*labels).inc(cost_usd)


class QueueCounts(Protocol):
    """What the run queue reports (``vitco.jobs.QueueStats``)."""

    @property
    def depth(self) -> int: ...

    @property
    def taken(self) -> int: ...

    @property
    def oldest_lease_s(self) -> float: ...


class StoreCollector(Collector):
    """The series read when scraped: runs by status from the store, and the run queue's
    autoscaling signals (depth, runs in progress, the oldest lease's age) from the queue in
    use (the database's or Redis).

    ``runs_by_status`` is the store's query (``vitco.store.stats``) and ``queue`` the queue's
    ``stats``, passed in so that this layer opens nothing itself.
    """

    def __init__(
        self,
        runs_by_status: Callable[[], Mapping[str, int]],
        queue: Callable[[], QueueCounts],
    ) -> None:
        self.runs_by_status = runs_by_status
        self.queue = queue

    def collect(self) -> Iterator[Metric]:
        runs = GaugeMetricFamily("vitco_runs", "Runs by status, as stored.", labels=["status"])
        for status, count in sorted(self.runs_by_status().items()):
            runs.add_metric([status], count)
        yield runs
        counts = self.queue()
        yield GaugeMetricFamily(
            "vitco_queue_depth",
            "Run jobs queued and not yet taken by a worker.",
            value=counts.depth,
        )
        yield GaugeMetricFamily(
            "vitco_runs_in_progress",
            "Run jobs held by a worker (runs executing), across every worker.",
            value=counts.taken,
        )
        yield GaugeMetricFamily(
            "vitco_queue_oldest_lease_seconds",
            "How long the oldest job held by a worker has been held (0 when none is).",
            value=counts.oldest_lease_s,
        )


class Joined(Collector):
    """Several registries or collectors scraped as one (this process's ``REGISTRY`` and an
    app's ``StoreCollector``)."""

    def __init__(self, *sources: Collector | CollectorRegistry) -> None:
        self.sources: Iterable[Collector | CollectorRegistry] = sources

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()
