"""Helpers for the router, breaker, budget and cache tests: a fake clock and scripted models."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

from vitco.llm.breaker import BreakerBoard, BreakerPolicy
from vitco.llm.config import TierPolicy
from vitco.llm.meter import Meter, MeteredModel
from vitco.llm.model import CallKey, Message, Model, ModelRequest, ModelResponse, Tier, Usage
from vitco.llm.pricing import PriceOverrides
from vitco.llm.retry import RetryPolicy
from vitco.llm.router import Route, Router

# USD per million tokens (input, output, cache read): round numbers so costs are easy to check.
PRICES = {
    "p:big": (10.0, 20.0, 1.0),
    "p:mid": (2.0, 4.0, 0.2),
    "q:mid": (3.0, 6.0, 0.3),
    "q:small": (0.5, 1.0, 0.05),
    "p:small": (0.25, 0.5, 0.025),
}


class FakeClock:
    """Time that only moves when the router sleeps (or a test says so)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class Scripted:
    """A model that plays a script: each item is an exception to raise or content to answer.

    When the script runs out it answers ``default`` (or raises it, if it is an exception).
    """

    def __init__(
        self,
        model_id: str,
        script: Iterable[Any] = (),
        *,
        default: Any = '{"ok": true}',
        usage: Usage | None = None,
    ) -> None:
        self._id = model_id
        self.script: deque[Any] = deque(script)
        self.default = default
        self.usage = usage or Usage(input_tokens=1000, output_tokens=500)
        self.requests: list[ModelRequest] = []
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return self._id

    @property
    def calls(self) -> int:
        return len(self.requests)

    def request(self, request: ModelRequest) -> ModelResponse:
        with self._lock:
            self.requests.append(request)
            step = self.script.popleft() if self.script else self.default
        if isinstance(step, BaseException):
            raise step
        return ModelResponse(content=step, usage=self.usage, model=f"raw/{self._id}")


def make_request(
    *,
    role: str = "developer",
    complexity: int = 5,
    tier: Tier | None = None,
    text: str = "Implement T1.",
    temperature: float = 0.0,
    max_tokens: int | None = 1000,
) -> ModelRequest:
    return ModelRequest(
        key=CallKey(role=role, step="implement", task="T1"),
        messages=(Message(role="system", content="You code."), Message(role="user", content=text)),
        output_name="Changeset",
        output_schema={"type": "object"},
        complexity=complexity,
        tier=tier,
        temperature=temperature,
        max_tokens=max_tokens,
    )


def route(model: Scripted) -> Route:
    """A route whose provider is the model id's prefix (``p:big`` -> ``p``)."""
    return Route(model, model.id.partition(":")[0])


def make_router(
    chains: dict[Tier, list[Scripted]],
    clock: FakeClock,
    *,
    attempts: int = 3,
    jitter: float = 0.0,
    breaker_failures: int = 100,
    cooldown_s: float = 30.0,
    policy: TierPolicy | None = None,
    **kw: Any,
) -> Router:
    return Router(
        {tier: [route(m) for m in models] for tier, models in chains.items()},
        policy=policy,
        retry=RetryPolicy(attempts=attempts, base_delay_s=0.5, max_delay_s=8.0, jitter=jitter),
        breakers=BreakerBoard(BreakerPolicy(breaker_failures, cooldown_s), clock=clock),
        prices=PRICES,
        sleep=clock.sleep,
        clock=clock,
        **kw,
    )


class Priced:
    """A model metered at the given prices, as the router meters its own routes (a plain
    model is metered on its id, and the test models are free)."""

    def __init__(self, inner: Model, prices: PriceOverrides) -> None:
        self.inner = inner
        self.prices = prices

    @property
    def id(self) -> str:
        return self.inner.id

    def request(self, request: ModelRequest) -> ModelResponse:
        raise AssertionError("only ever used metered")

    def metered(self, meter: Meter) -> MeteredModel:
        return MeteredModel(self.inner, meter, prices=self.prices)
