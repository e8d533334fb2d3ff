"""Observability: Prometheus metrics (``metrics``) and structured JSON logs (``logging``)."""

from vitco.observability.metrics import (
    BREAKER_STATE,
    HTTP_DURATION,
    HTTP_REQUESTS,
    MODEL_CACHE_HITS,
    MODEL_CALLS,
    MODEL_COST,
    MODEL_RETRIES,
    MODEL_TOKENS,
    REGISTRY,
    STEP_DURATION,
    Joined,
    StoreCollector,
    record_model_call,
)

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
