"""Metering: every request that reaches a provider is admitted first and recorded after.

One ask of a role can be many requests: retries after a 429 or an unreadable body, fallbacks
to the next model, a raised output limit after a truncated answer, a switch of structured-output
mode, a repair turn. Each is billed by a paid provider, so each one passes through a ``Meter``:

- ``admit(model_id, estimate)`` before it is sent: the budget (if any) reserves the estimate or
  refuses with ``BudgetExceeded`` (or ``UnpricedModel`` when the price is unknown);
- ``record(attempt)`` once it is over, whatever the outcome: the sink writes the ledger row
  and the event, the budget swaps the reservation for the actual cost;
- ``cancel(reserved)`` when an admitted request was never sent after all.

The router meters each of its tries itself (``Router.metered``); any other model is wrapped in
a ``MeteredModel`` (one request, one attempt). :func:`metered` picks the right one.

An ``Attempt`` says what the request was (the ask's key and fingerprint, so a resumed run's
journal finds the answered one), where it went (model, tier), what it cost (usage, USD) and how
it ended (``outcome``: see :data:`OUTCOMES`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vitco.llm.budget import Budget
from vitco.llm.exceptions import (
    AnswerTruncated,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    StructuredModeRefused,
)
from vitco.llm.model import Model, ModelRequest, ModelResponse, Tier, Usage
from vitco.llm.pricing import Cost, PriceOverrides, cost_usd, estimate_cost
from vitco.observability.metrics import record_model_call

__all__ = [
    "OUTCOMES",
    "Attempt",
    "Meter",
    "MeteredModel",
    "failed_attempt",
    "metered",
    "outcome_of",
]

OUTCOMES = (
    "ok",  # answered; the answer went on to the caller
    "cached",  # answered from the response cache; no provider request, cost 0
    "invalid",  # answered, then rejected by validation (the agent asked for a repair)
    "truncated",  # cut at the output token limit
    "bad_response",  # a 200 that could not be used (no content, malformed, refused...)
    "mode_refused",  # the server refused the structured-output mode
    "rate_limited",
    "timeout",
    "unavailable",  # 5xx, connection failure
    "http_error",  # another 4xx: the request or the configuration is wrong
)
"""A request stopped while waiting for its answer (Ctrl-C) is not recorded: what it cost is
unknown, and the step that made it runs again on resume, like every step cut short."""


@dataclass(frozen=True)
class Attempt:
    """One request that reached a provider (or the cache), and how it ended.

    ``request`` is the ask as the caller made it (its key and fingerprint are the journal's);
    ``max_tokens`` is the output limit actually sent, which the router may have raised.
    """

    request: ModelRequest
    model: str
    outcome: str
    tier: Tier | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    latency_s: float = 0.0
    content: str = ""
    cached: bool = False
    error: str | None = None
    max_tokens: int | None = None
    estimate_usd: float = 0.0
    retries: int = 0

    @property
    def answered(self) -> bool:
        """True when the attempt produced the answer handed to the caller."""
        return self.outcome in ("ok", "cached")


def outcome_of(error: ProviderError) -> str:
    """The ``outcome`` of a request that ended with ``error``."""
    if isinstance(error, AnswerTruncated):
        return "truncated"
    if isinstance(error, StructuredModeRefused):
        return "mode_refused"
    if isinstance(error, RateLimited):
        return "rate_limited"
    if isinstance(error, ProviderTimeout):
        return "timeout"
    if isinstance(error, ProviderUnavailable):
        return "unavailable"
    return "http_error" if error.status is not None else "bad_response"


def failed_attempt(
    request: ModelRequest,
    error: ProviderError,
    *,
    model: str,
    tier: Tier | None,
    latency_s: float,
    estimate_usd: float,
    prices: PriceOverrides | None,
    max_tokens: int | None = None,
    retries: int = 0,
) -> Attempt:
    """The attempt of a request to ``model`` that ended with ``error``; a provider's answer
    that could not be used carries the usage it was billed for."""
    usage = error.usage or Usage()
    return Attempt(
        request=request,
        model=model,
        outcome=outcome_of(error),
        tier=tier,
        usage=usage,
        cost_usd=cost_usd(usage, model, prices).usd,
        latency_s=latency_s,
        error=str(error),
        max_tokens=max_tokens if max_tokens is not None else request.max_tokens,
        estimate_usd=estimate_usd,
        retries=retries,
    )


def answered_attempt(
    request: ModelRequest,
    answer: ModelResponse,
    *,
    max_tokens: int | None,
    estimate_usd: float,
    retries: int = 0,
) -> Attempt:
    """The attempt of a request that ``answer`` answered (from the cache when it says so)."""
    return Attempt(
        request=request,
        model=answer.model,
        outcome="cached" if answer.cached else "ok",
        tier=answer.tier,
        usage=answer.usage,
        cost_usd=answer.cost_usd,
        latency_s=answer.latency_s,
        content=answer.content,
        cached=answer.cached,
        max_tokens=max_tokens,
        estimate_usd=estimate_usd,
        retries=retries,
    )


Sink = Callable[[Attempt], None]


class Meter:
    """Admits requests against an optional ``Budget`` and hands each attempt to ``sink``
    (the run's ledger and events). Thread-safe as far as its budget and sink are."""

    def __init__(self, sink: Sink | None = None, *, budget: Budget | None = None) -> None:
        self.sink = sink
        self.budget = budget

    def admit(self, model_id: str, estimate: Cost) -> float:
        """Reserve ``estimate`` for a request to ``model_id``; the amount reserved."""
        return self.budget.admit(model_id, estimate) if self.budget is not None else 0.0

    def record(self, attempt: Attempt) -> None:
        """Write one attempt; its reservation (``estimate_usd``) becomes its actual cost.
        Counted in the process's metrics too (``vitco_model_*``)."""
        record_model_call(
            model=attempt.model,
            tier=attempt.tier,
            role=attempt.request.key.role,
            outcome=attempt.outcome,
            input_tokens=attempt.usage.input_tokens,
            output_tokens=attempt.usage.output_tokens,
            cost_usd=attempt.cost_usd,
        )
        try:
            if self.sink is not None:
                self.sink(attempt)
        finally:
            if self.budget is not None:
                self.budget.settle(attempt.estimate_usd, attempt.cost_usd)

    def cancel(self, reserved: float) -> None:
        """Give back the reservation of a request that was not sent."""
        if self.budget is not None:
            self.budget.settle(reserved, 0.0)


class MeteredModel:
    """A model without a router inside (a replay, a test model) behind a meter: each request
    is one attempt, priced on the model's id (or the response's own ``cost_usd``)."""

    def __init__(
        self,
        inner: Model,
        meter: Meter,
        *,
        prices: PriceOverrides | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.meter = meter
        self.prices = prices
        self._clock = clock

    @property
    def id(self) -> str:
        return self.inner.id

    def request(self, request: ModelRequest) -> ModelResponse:
        model_id = self.inner.id
        reserved = self.meter.admit(model_id, estimate_cost(request, model_id, self.prices))
        started = self._clock()
        try:
            response = self.inner.request(request)
        except ProviderError as exc:
            self.meter.record(
                failed_attempt(
                    request,
                    exc,
                    model=model_id,
                    tier=request.tier,
                    latency_s=self._clock() - started,
                    estimate_usd=reserved,
                    prices=self.prices,
                )
            )
            raise
        except BaseException:  # not a provider's answer (a replay miss), or a stop
            self.meter.cancel(reserved)
            raise
        priced = cost_usd(response.usage, model_id, self.prices)
        usd = response.cost_usd or (priced.usd if priced.known else 0.0)
        latency = response.latency_s or self._clock() - started
        response = response.model_copy(update={"cost_usd": usd, "latency_s": latency})
        self.meter.record(
            answered_attempt(
                request,
                response.model_copy(update={"tier": response.tier or request.tier}),
                max_tokens=request.max_tokens,
                estimate_usd=reserved,
                retries=response.retries,
            )
        )
        return response


def metered(model: Model, meter: Meter) -> Model:
    """``model`` with every request it sends to a provider admitted and recorded by ``meter``:
    a model that meters its own tries (the router, wrappers around it) says how through its
    ``metered(meter)``; any other is wrapped in a ``MeteredModel``."""
    attach = getattr(model, "metered", None)
    if callable(attach):
        result: Model = attach(meter)
        return result
    return MeteredModel(model, meter)
