"""When to try a failed model call again, and how long to wait first.

Providers fail in ways that pass (a 429, a 503, a timeout, a body cut off half way) and in
ways that do not (a 400 for a schema the model rejects, a 401 for a wrong key). The first kind
is retried on the same model with exponential backoff and jitter, honouring the provider's
``Retry-After``; the second moves straight on to the next model, because asking again cannot
help. A ``Retry-After`` longer than ``max_retry_after_s`` also moves on: waiting minutes for
one provider while another could answer now is the wrong trade.

Pure functions of (policy, attempt, error, random number): the router owns the sleeping, so
tests drive it with a fake clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from vitco.llm.exceptions import (
    BadResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)

__all__ = ["RetryPolicy", "counts_against_provider", "is_transient", "retry_delay"]

TRANSIENT = (RateLimited, ProviderTimeout, ProviderUnavailable, BadResponse)
"""Errors that may go away if the same request is sent again."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one model before falling back to the next.

    Attributes:
        attempts: tries per model, the first included (1 = no retry).
        base_delay_s: the wait before the first retry; doubled for each further one.
        max_delay_s: the longest backoff wait.
        jitter: the fraction of each backoff wait that is random (0 = none, 1 = "full
            jitter"), so that many clients that failed together do not retry together.
        max_retry_after_s: a ``Retry-After`` longer than this is not waited for.
        max_output_tokens: the ceiling when an answer cut at its output limit is asked again
            with a higher one (never unchanged: see ``Router``).
    """

    attempts: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    jitter: float = 0.5
    max_retry_after_s: float = 60.0
    max_output_tokens: int = 32_768

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be between 0 and 1")
        if self.base_delay_s < 0 or self.max_delay_s < 0 or self.max_retry_after_s < 0:
            raise ValueError("delays must not be negative")


def is_transient(error: ProviderError) -> bool:
    """True for failures worth retrying on the same model."""
    return isinstance(error, TRANSIENT)


def counts_against_provider(error: ProviderError) -> bool:
    """True for failures that say something about the provider's health (breaker input).

    A 4xx other than 408/429 says the *request* or the configuration is wrong (a bad key, an
    unknown model): it must not open the breaker for calls that would succeed.
    """
    return is_transient(error)


def retry_delay(
    policy: RetryPolicy,
    failures: int,
    error: ProviderError,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds to wait before trying the same model again, or None to move on.

    ``failures`` counts this model's failed tries so far for this call (1 after the first).
    """
    if not is_transient(error) or failures >= policy.attempts:
        return None
    retry_after = error.retry_after if isinstance(error, RateLimited) else None
    if retry_after is not None:
        if retry_after > policy.max_retry_after_s:
            return None
        return float(retry_after)
    backoff = min(policy.max_delay_s, policy.base_delay_s * 2.0 ** (failures - 1))
    fraction = (rng or random).random()
    return backoff * (1.0 - policy.jitter * fraction)
