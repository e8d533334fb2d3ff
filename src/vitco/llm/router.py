"""The router: a ``Model`` that picks a tier per call and walks its chain until one answers.

The shape is pydantic-ai's ``FallbackModel``: an ordered chain of models and the exception
types that move on to the next one. Per call:

1. **Tier**: an explicit ``request.tier`` wins (the workflow escalates a stuck call with it);
   otherwise the :class:`~vitco.llm.config.TierPolicy` maps role and complexity to a tier.
2. **Candidates**: that tier's chain, then the chains of the tiers above it (never below: a
   call that needs a strong model must not silently get a weak one). A model in two chains is
   tried once.
3. **Cache**: a temperature-0 request already answered by a candidate is served from the
   cache (``cached=True``, cost 0) without touching the provider.
4. **Breaker**: a candidate whose provider's breaker is open is skipped at once.
5. **Retries**: transient failures (429, 5xx, timeouts, unreadable bodies) are retried on the
   same model with exponential backoff + jitter, honouring ``Retry-After``; other failures
   (400, 401, 404) move on to the next candidate straight away.
6. **Truncation**: an answer cut at the output limit (``AnswerTruncated``) is asked again once
   with the limit raised (bounded by ``RetryPolicy.max_output_tokens``), never unchanged; cut
   again, the call moves on to the next candidate (which may be a stronger tier).
7. **Structured modes**: a server that refuses how typed output was asked for
   (``StructuredModeRefused``) is asked again at once in the next mode, which is remembered
   for its provider (``modes``; see :mod:`vitco.llm.modes`).

A ``metered(meter)`` copy of the router (one per run) hands every request it sends to the
meter: admitted by the run's budget before it is sent, recorded in its ledger when it ends,
whatever the outcome (see :mod:`vitco.llm.meter`).

The answer carries the tier and the model id that answered, the failed tries before it
(``retries``), the cost from token usage and the price table (``cost_usd``), and the whole
time the call took, retries and waits included (``latency_s``).
When nothing answers, ``AllModelsFailed`` lists every candidate and what happened to it.

``estimate(request)`` is the conservative price of an answer before it is asked for: the most
expensive candidate it could end up on, at its full output allowance (the budget prices each
request the router sends on its own, when it is sent).
Thread-safe: parallel task branches share one router; time, sleep and randomness are injected.
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from vitco.llm.breaker import BreakerBoard
from vitco.llm.cache import ResponseCache, cache_key
from vitco.llm.config import TierPolicy
from vitco.llm.exceptions import (
    AllModelsFailed,
    AnswerTruncated,
    ProviderError,
    StructuredModeRefused,
)
from vitco.llm.meter import Meter, answered_attempt, failed_attempt
from vitco.llm.model import MAX_ANSWER_BYTES, TIERS, Model, ModelRequest, ModelResponse, Tier
from vitco.llm.modes import ModeMemory, StructuredMode
from vitco.llm.pricing import DEFAULT_OUTPUT_CAP, PriceOverrides, cost_usd, estimate_cost
from vitco.llm.retry import RetryPolicy, counts_against_provider, retry_delay
from vitco.observability.metrics import MODEL_RETRIES

__all__ = ["MAX_MODE_SWITCHES", "Route", "Router"]

MAX_MODE_SWITCHES = 3
"""Structured-output modes a request may fall through on one model (json_schema, tool,
json_object, prompt: three switches reach the last)."""


@dataclass(frozen=True)
class Route:
    """One model in a chain: the model, the provider whose breaker guards it, and its id.

    ``model_id`` is the id as configured (``box:qwen2.5``), which prices and listings use;
    it defaults to ``model.id``.
    """

    model: Model
    provider: str
    model_id: str = ""

    @property
    def id(self) -> str:
        return self.model_id or self.model.id


class Router:
    """A model over tiered chains of models; see the module docstring."""

    def __init__(
        self,
        chains: Mapping[Tier, Sequence[Route]],
        *,
        policy: TierPolicy | None = None,
        retry: RetryPolicy | None = None,
        breakers: BreakerBoard | None = None,
        prices: PriceOverrides | None = None,
        cache: ResponseCache | None = None,
        cache_ttl_s: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        model_id: str = "router",
        meter: Meter | None = None,
        modes: ModeMemory | None = None,
    ) -> None:
        self.chains: dict[Tier, tuple[Route, ...]] = {t: tuple(chains.get(t, ())) for t in TIERS}
        if not any(self.chains.values()):
            raise ValueError("a router needs at least one model")
        self.policy = policy or TierPolicy()
        self.retry = retry or RetryPolicy()
        self.breakers = breakers or BreakerBoard()
        self.prices = prices
        self.cache = cache if cache_ttl_s > 0 else None
        self.cache_ttl_s = cache_ttl_s
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._id = model_id
        self.meter = meter
        self.modes = modes

    @property
    def id(self) -> str:
        return self._id

    def tier_of(self, request: ModelRequest) -> Tier:
        """The tier a request starts at."""
        return request.tier or self.policy.tier_for(request.key.role, request.complexity)

    def candidates(self, request: ModelRequest) -> list[tuple[Tier, Route]]:
        """The models a request may be answered by, in the order they are tried."""
        start = TIERS.index(self.tier_of(request))
        seen: set[str] = set()
        ordered: list[tuple[Tier, Route]] = []
        for tier in TIERS[start:]:
            for route in self.chains[tier]:
                if route.id not in seen:
                    seen.add(route.id)
                    ordered.append((tier, route))
        if not ordered:  # only lower tiers are configured: better a weaker model than none
            for tier in reversed(TIERS[:start]):
                for route in self.chains[tier]:
                    if route.id not in seen:
                        seen.add(route.id)
                        ordered.append((tier, route))
        return ordered

    def estimate(self, request: ModelRequest) -> float:
        """A conservative USD price of ``request``: its dearest candidate, full output allowance.

        Zero when the first candidate already has the answer cached.
        """
        candidates = self.candidates(request)
        if self.cache is not None and candidates:
            key = cache_key(candidates[0][1].id, request)
            if key is not None and self.cache.get(key) is not None:
                return 0.0
        return max(
            (estimate_cost(request, route.id, self.prices).usd for _, route in candidates),
            default=0.0,
        )

    def metered(self, meter: Meter) -> Router:
        """This router with every request it sends admitted and recorded by ``meter`` (one
        run's budget and ledger); chains, breakers, cache and prices stay shared."""
        twin = copy.copy(self)
        twin.meter = meter
        return twin

    def request(self, request: ModelRequest) -> ModelResponse:
        """Answer ``request`` from the first candidate that can; see the module docstring."""
        started = self._clock()
        failures: list[tuple[str, str]] = []
        for tier, route in self.candidates(request):
            key = cache_key(route.id, request) if self.cache is not None else None
            if key is not None and self.cache is not None:
                hit = self.cache.get(key)
                if hit is not None:
                    answer = hit.model_copy(
                        update={
                            "model": route.id,
                            "tier": tier,
                            "cached": True,
                            "cost_usd": 0.0,
                            "retries": len(failures),
                            "latency_s": self._clock() - started,
                        }
                    )
                    self._record(request, answer)
                    return answer
            response = self._try(tier, route, request, failures)
            if response is None:
                continue
            answer = response.model_copy(
                update={"retries": len(failures), "latency_s": self._clock() - started}
            )
            small = len(answer.content.encode("utf-8", "surrogatepass")) <= MAX_ANSWER_BYTES
            if key is not None and self.cache is not None and small:  # the journal refuses it
                self.cache.set(key, answer, self.cache_ttl_s)
            return answer
        raise AllModelsFailed(request.key.label(), self.tier_of(request), failures)

    def _try(
        self,
        tier: Tier,
        route: Route,
        request: ModelRequest,
        failures: list[tuple[str, str]],
    ) -> ModelResponse | None:
        """Call one candidate with retries; None (and ``failures`` extended) if it gave up.

        Each request sent is admitted and recorded by the meter. An answer cut at the output
        limit is asked again once with the limit raised (bounded by the retry policy's
        ``max_output_tokens``), never unchanged; a refused structured-output mode is asked
        again at once in the model's next mode, which is remembered for its provider.
        """
        breaker = self.breakers.get(route.provider)
        sent = request
        tries = raised = switches = 0
        while True:
            if not breaker.allow():
                status = breaker.status()
                wait = f", probe in {status.retry_in_s:.0f}s" if status.retry_in_s else ""
                failures.append((route.id, f"skipped: {route.provider} breaker open{wait}"))
                return None
            tries += 1
            began = self._clock()
            reserved: float | None = None
            try:
                reserved = self._admit(route, sent)
                response = route.model.request(sent)
            except ProviderError as exc:
                self._record_failure(request, sent, tier, route, exc, reserved, began, failures)
                failures.append((route.id, str(exc)))
                if isinstance(exc, StructuredModeRefused):
                    breaker.release()  # the server is fine; the way we asked was not
                    switches += 1
                    if exc.fallback is None or switches > MAX_MODE_SWITCHES:
                        return None
                    self._remember(route.provider, exc.fallback, str(exc))
                    continue
                if isinstance(exc, AnswerTruncated):
                    breaker.release()  # the server answered; the limit was too low
                    bigger = self._raised_limit(sent, exc)
                    if raised or bigger is None:
                        return None  # the next candidate (a stronger tier) may need fewer
                    raised += 1
                    sent = sent.model_copy(update={"max_tokens": bigger})
                    continue
                opened = False
                if counts_against_provider(exc):
                    opened = breaker.failure(str(exc))
                else:
                    breaker.release()
                MODEL_RETRIES.labels(route.id).inc()
                with self._rng_lock:
                    delay = retry_delay(self.retry, tries, exc, self._rng)
                if delay is None or opened:
                    return None
                if delay > 0:
                    self._sleep(delay)
                continue
            except BaseException:
                breaker.release()
                if reserved is not None and self.meter is not None:
                    self.meter.cancel(reserved)  # a stop: not recorded (see meter.OUTCOMES)
                raise
            breaker.success()
            priced = cost_usd(response.usage, route.id, self.prices)
            answer = response.model_copy(
                update={
                    "model": route.id,
                    "tier": tier,
                    "cached": False,
                    "cost_usd": priced.usd if priced.known else response.cost_usd,
                    "latency_s": self._clock() - began,
                }
            )
            self._record(request, answer, sent=sent, reserved=reserved, retries=len(failures))
            return answer

    # -- metering --------------------------------------------------------------------------

    def _admit(self, route: Route, sent: ModelRequest) -> float:
        if self.meter is None:
            return 0.0
        return self.meter.admit(route.id, estimate_cost(sent, route.id, self.prices))

    def _record(
        self,
        request: ModelRequest,
        answer: ModelResponse,
        *,
        sent: ModelRequest | None = None,
        reserved: float = 0.0,
        retries: int = 0,
    ) -> None:
        if self.meter is not None:
            max_tokens = (sent or request).max_tokens
            attempt = answered_attempt(
                request, answer, max_tokens=max_tokens, estimate_usd=reserved, retries=retries
            )
            self.meter.record(attempt)

    def _record_failure(
        self,
        request: ModelRequest,
        sent: ModelRequest,
        tier: Tier,
        route: Route,
        error: ProviderError,
        reserved: float | None,
        began: float,
        failures: list[tuple[str, str]],
    ) -> None:
        if self.meter is None or reserved is None:
            return
        self.meter.record(
            failed_attempt(
                request,
                error,
                model=route.id,
                tier=tier,
                latency_s=self._clock() - began,
                estimate_usd=reserved,
                prices=self.prices,
                max_tokens=sent.max_tokens,
                retries=len(failures),
            )
        )

    def _raised_limit(self, sent: ModelRequest, error: AnswerTruncated) -> int | None:
        """A higher output limit for a request whose answer was cut, or None at the ceiling."""
        current = (
            sent.max_tokens or error.limit or (error.usage.output_tokens if error.usage else 0)
        )
        ceiling = self.retry.max_output_tokens
        bigger = min(ceiling, max(2 * current, DEFAULT_OUTPUT_CAP))
        return bigger if bigger > current else None

    def _remember(self, provider: str, mode: StructuredMode, why: str) -> None:
        if self.modes is not None:
            self.modes.remember(provider, mode, why)

    def close(self) -> None:
        """Close the models that hold connections."""
        models = {id(r.model): r.model for chain in self.chains.values() for r in chain}
        for model in models.values():
            close = getattr(model, "close", None)
            if callable(close):
                close()
