"""Metrics (Prometheus counters and histograms the router and the runs update)."""

from vitco.observability.metrics import (
    BREAKER_STATE,
    MODEL_CALLS,
    MODEL_COST,
    MODEL_RETRIES,
    REGISTRY,
)

__all__ = ["BREAKER_STATE", "MODEL_CALLS", "MODEL_COST", "MODEL_RETRIES", "REGISTRY"]
