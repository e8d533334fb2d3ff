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

The answer carries what the ledger needs: the tier and the model id that answered, the
failed tries before it (``retries``), the cost from token usage and the price table
(``cost_usd``), and the whole time the call took, retries and waits included (``latency_s``).
When nothing answers, ``AllModelsFailed`` lists every candidate and what happened to it.

``estimate(request)`` is the conservative price of a call before it is made: the most
expensive candidate it could end up on, at its full output allowance (``BudgetedModel``).
Thread-safe: parallel task branches share one router; time, sleep and randomness are injected.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from vitco.llm.breaker import BreakerBoard
from vitco.llm.cache import ResponseCache, cache_key
from vitco.llm.config import TierPolicy
from vitco.llm.exceptions import AllModelsFailed, ProviderError
from vitco.llm.model import MAX_ANSWER_BYTES, TIERS, Model, ModelRequest, ModelResponse, Tier
from vitco.llm.pricing import PriceOverrides, cost_usd, estimate_cost
from vitco.llm.retry import RetryPolicy, counts_against_provider, retry_delay
from vitco.observability.metrics import MODEL_CALLS, MODEL_COST, MODEL_RETRIES

__all__ = ["Route", "Router"]


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

    def request(self, request: ModelRequest) -> ModelResponse:
        """Answer ``request`` from the first candidate that can; see the module docstring."""
        started = self._clock()
        failures: list[tuple[str, str]] = []
        for tier, route in self.candidates(request):
            key = cache_key(route.id, request) if self.cache is not None else None
            if key is not None and self.cache is not None:
                hit = self.cache.get(key)
                if hit is not None:
                    MODEL_CALLS.labels(route.id, tier, "cache_hit").inc()
                    return hit.model_copy(
                        update={
                            "model": route.id,
                            "tier": tier,
                            "cached": True,
                            "cost_usd": 0.0,
                            "retries": len(failures),
                            "latency_s": self._clock() - started,
                        }
                    )
            response = self._try(tier, route, request, failures)
            if response is None:
                continue
            priced = cost_usd(response.usage, route.id, self.prices)
            usd = priced.usd if priced.known else response.cost_usd
            MODEL_CALLS.labels(route.id, tier, "ok").inc()
            MODEL_COST.labels(route.id).inc(usd)
            answer = response.model_copy(
                update={
                    "model": route.id,
                    "tier": tier,
                    "cached": False,
                    "cost_usd": usd,
                    "retries": len(failures),
                    "latency_s": self._clock() - started,
                }
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
        """Call one candidate with retries; None (and ``failures`` extended) if it gave up."""
        breaker = self.breakers.get(route.provider)
        tries = 0
        while True:
            if not breaker.allow():
                status = breaker.status()
                wait = f", probe in {status.retry_in_s:.0f}s" if status.retry_in_s else ""
                failures.append((route.id, f"skipped: {route.provider} breaker open{wait}"))
                return None
            tries += 1
            try:
                response = route.model.request(request)
            except ProviderError as exc:
                opened = False
                if counts_against_provider(exc):
                    opened = breaker.failure(str(exc))
                else:
                    breaker.release()
                MODEL_CALLS.labels(route.id, tier, "error").inc()
                MODEL_RETRIES.labels(route.id).inc()
                failures.append((route.id, str(exc)))
                with self._rng_lock:
                    delay = retry_delay(self.retry, tries, exc, self._rng)
                if delay is None or opened:
                    return None
                if delay > 0:
                    self._sleep(delay)
                continue
            except BaseException:
                breaker.release()
                raise
            breaker.success()
            return response

    def close(self) -> None:
        """Close the models that hold connections."""
        models = {id(r.model): r.model for chain in self.chains.values() for r in chain}
        for model in models.values():
            close = getattr(model, "close", None)
            if callable(close):
                close()
