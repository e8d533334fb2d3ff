"""Prometheus metrics: one registry for vitco, and the series the model layer keeps.

A registry of our own (not prometheus-client's global one) so that an embedding application's
metrics and ours never collide, and so an API can expose exactly vitco's series with
``prometheus_client.generate_latest(REGISTRY)``.

Series:

- ``vitco_model_calls_total{model, tier, outcome}``: answered calls (``ok``, ``cache_hit``)
  and failed tries (``error``) per model;
- ``vitco_model_retries_total{model}``: failed tries that were followed by another try;
- ``vitco_model_cost_usd_total{model}``: spend;
- ``vitco_breaker_state{provider}``: 0 closed, 1 half-open, 2 open.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["BREAKER_STATE", "MODEL_CALLS", "MODEL_COST", "MODEL_RETRIES", "REGISTRY"]

REGISTRY = CollectorRegistry(auto_describe=True)

MODEL_CALLS = Counter(
    "vitco_model_calls",
    "Model calls by model, tier and outcome (ok, cache_hit, error).",
    ["model", "tier", "outcome"],
    registry=REGISTRY,
)
MODEL_RETRIES = Counter(
    "vitco_model_retries",
    "Failed model tries that were followed by another try.",
    ["model"],
    registry=REGISTRY,
)
MODEL_COST = Counter(
    "vitco_model_cost_usd",
    "Spend on model calls in USD.",
    ["model"],
    registry=REGISTRY,
)
BREAKER_STATE = Gauge(
    "vitco_breaker_state",
    "Circuit breaker state per provider: 0 closed, 1 half-open, 2 open.",
    ["provider"],
    registry=REGISTRY,
)
