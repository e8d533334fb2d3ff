"""The router: tier choice, retries with backoff and Retry-After, fallback, pricing, estimates."""

from __future__ import annotations

import random
import threading

import pytest

from tests.llm.routing import FakeClock, Scripted, make_request, make_router
from vitco.llm.cache import MemoryResponseCache
from vitco.llm.config import RoleRule, TierPolicy
from vitco.llm.exceptions import (
    AllModelsFailed,
    BadResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from vitco.llm.meter import Meter
from vitco.llm.model import Tier, Usage
from vitco.llm.pricing import estimate_cost
from vitco.llm.retry import RetryPolicy, retry_delay
from vitco.llm.router import Route, Router
from vitco.observability.metrics import REGISTRY


def three_tiers() -> tuple[Scripted, Scripted, Scripted]:
    return Scripted("p:big"), Scripted("p:mid"), Scripted("p:small")


@pytest.mark.parametrize(
    ("complexity", "answered_by", "tier"),
    [(10, "p:big", "premium"), (8, "p:big", "premium"), (7, "p:mid", "standard"),
     (5, "p:mid", "standard"), (4, "p:small", "efficient"), (1, "p:small", "efficient")],
)  # fmt: skip
def test_the_tier_follows_complexity(complexity: int, answered_by: str, tier: str) -> None:
    big, mid, small = three_tiers()
    router = make_router({"premium": [big], "standard": [mid], "efficient": [small]}, FakeClock())

    response = router.request(make_request(complexity=complexity))

    assert (response.model, response.tier) == (answered_by, tier)
    assert big.calls + mid.calls + small.calls == 1


def test_an_explicit_tier_wins_over_complexity_and_role() -> None:
    big, mid, small = three_tiers()
    policy = TierPolicy(roles={"developer": RoleRule(tier="efficient")})
    chains: dict[Tier, list[Scripted]] = {"premium": [big], "standard": [mid], "efficient": [small]}
    router = make_router(chains, FakeClock(), policy=policy)

    assert router.request(make_request(complexity=9)).model == "p:small"  # the role's fixed tier
    assert router.request(make_request(complexity=1, tier="premium")).model == "p:big"


def test_role_bounds_clamp_the_computed_tier() -> None:
    policy = TierPolicy(
        premium_at=9,
        standard_at=4,
        roles={"developer": RoleRule(min_tier="standard"), "qa": RoleRule(max_tier="standard")},
    )
    assert policy.tier_for("developer", 1) == "standard"
    assert policy.tier_for("developer", 9) == "premium"
    assert policy.tier_for("qa", 10) == "standard"
    assert policy.tier_for("analyst", 8) == "standard"  # thresholds moved
    assert policy.tier_for("analyst", 3) == "efficient"


def test_the_answer_carries_model_tier_cost_latency_and_retries() -> None:
    clock = FakeClock()
    mid = Scripted("p:mid", [ProviderUnavailable("p", "HTTP 503")])
    router = make_router({"standard": [mid]}, clock)

    response = router.request(make_request(complexity=5))

    assert response.model == "p:mid" and response.tier == "standard"
    assert response.retries == 1
    # 1000 input tokens at $2/M + 500 output tokens at $4/M
    assert response.cost_usd == pytest.approx(0.004)
    assert response.latency_s == pytest.approx(0.5)  # the backoff wait is part of the call
    assert response.cached is False


def test_transient_errors_back_off_exponentially() -> None:
    clock = FakeClock()
    mid = Scripted(
        "p:mid",
        [
            ProviderTimeout("p", "slow"),
            BadResponse("p", "cut off"),
            ProviderUnavailable("p", "5xx"),
        ],
    )
    router = make_router({"standard": [mid]}, clock, attempts=4)

    response = router.request(make_request())

    assert clock.sleeps == [0.5, 1.0, 2.0]
    assert response.retries == 3 and mid.calls == 4


def test_jitter_shortens_each_wait_by_a_random_fraction() -> None:
    clock = FakeClock()
    errors = [ProviderUnavailable("p", "5xx")] * 3
    router = make_router(
        {"standard": [Scripted("p:mid", errors)]},
        clock,
        attempts=4,
        jitter=0.5,
        rng=random.Random(7),
    )
    router.request(make_request())
    for wait, full in zip(clock.sleeps, [0.5, 1.0, 2.0], strict=True):
        assert full * 0.5 <= wait <= full
    assert len(set(clock.sleeps)) == 3


def test_retry_after_is_honoured() -> None:
    clock = FakeClock()
    mid = Scripted("p:mid", [RateLimited("p", "429", retry_after=7.0)])
    router = make_router({"standard": [mid]}, clock)

    assert router.request(make_request()).retries == 1
    assert clock.sleeps == [7.0]


def test_a_retry_after_too_long_moves_on_to_the_next_model_at_once() -> None:
    clock = FakeClock()
    first = Scripted("p:mid", [RateLimited("p", "429", retry_after=3600.0)])
    second = Scripted("q:mid")
    router = make_router({"standard": [first, second]}, clock)

    response = router.request(make_request())

    assert response.model == "q:mid" and response.retries == 1
    assert clock.sleeps == [] and first.calls == 1


def test_a_client_error_is_not_retried_but_falls_back() -> None:
    clock = FakeClock()
    first = Scripted("p:mid", default=ProviderError("p", "HTTP 404: no such model", status=404))
    second = Scripted("q:mid")
    router = make_router({"standard": [first, second]}, clock)

    response = router.request(make_request())

    assert first.calls == 1 and second.calls == 1
    assert response.model == "q:mid" and clock.sleeps == []
    assert router.breakers.status("p").failures == 0  # a 404 says nothing about p's health


def test_fallback_walks_the_tier_then_goes_up_never_down() -> None:
    clock = FakeClock()
    down = ProviderUnavailable("x", "down")
    small_p = Scripted("p:small", default=down)
    small_q = Scripted("q:small", default=down)
    mid = Scripted("p:mid", default=down)
    big = Scripted("p:big")
    router = make_router(
        {"premium": [big], "standard": [mid], "efficient": [small_p, small_q]},
        clock,
        attempts=2,
    )

    response = router.request(make_request(complexity=2))

    assert response.model == "p:big" and response.tier == "premium"
    assert [small_p.calls, small_q.calls, mid.calls, big.calls] == [2, 2, 2, 1]
    assert response.retries == 6

    mid_only = make_router({"standard": [Scripted("p:mid", default=down)],
                            "efficient": [Scripted("q:small")]}, clock, attempts=1)  # fmt: skip
    with pytest.raises(AllModelsFailed):  # a standard call never drops to efficient
        mid_only.request(make_request(complexity=6))


def test_when_only_lower_tiers_exist_the_strongest_of_them_answers() -> None:
    small = Scripted("p:small")
    router = make_router({"efficient": [small]}, FakeClock())
    assert router.request(make_request(complexity=10)).tier == "efficient"


def test_a_model_in_two_chains_is_tried_once() -> None:
    clock = FakeClock()
    shared = Scripted("p:mid", default=ProviderUnavailable("p", "down"))
    big = Scripted("p:big")
    router = make_router({"premium": [shared, big], "standard": [shared]}, clock, attempts=1)
    assert router.request(make_request(complexity=5)).model == "p:big"
    assert shared.calls == 1


def test_all_failures_are_named_in_one_error() -> None:
    clock = FakeClock()
    router = make_router(
        {
            "standard": [
                Scripted("p:mid", default=ProviderUnavailable("p", "HTTP 503: overloaded")),
                Scripted("q:mid", default=ProviderError("q", "HTTP 401: bad key", status=401)),
            ]
        },
        clock,
        attempts=2,
    )
    with pytest.raises(AllModelsFailed) as info:
        router.request(make_request())
    error = info.value
    assert isinstance(error, ProviderUnavailable)
    assert error.call == "developer/implement/T1#1" and error.tier == "standard"
    assert [m for m, _ in error.failures] == ["p:mid", "p:mid", "q:mid"]
    assert "HTTP 401: bad key" in str(error) and "HTTP 503: overloaded" in str(error)


def test_a_defect_in_a_model_propagates_unchanged() -> None:
    router = make_router({"standard": [Scripted("p:mid", default=KeyError("bug"))]}, FakeClock())
    with pytest.raises(KeyError):
        router.request(make_request())


def test_an_unpriced_model_keeps_the_cost_it_reported() -> None:
    class Reporting(Scripted):
        def request(self, request):  # type: ignore[no-untyped-def]
            return super().request(request).model_copy(update={"cost_usd": 0.25})

    router = Router({"standard": [Route(Reporting("z:unknown"), "z")]}, prices={})
    assert router.request(make_request()).cost_usd == 0.25


def test_the_estimate_is_the_dearest_candidate_at_full_output() -> None:
    big, mid, small = three_tiers()
    other = Scripted("q:small")
    router = make_router(
        {"premium": [big], "standard": [mid], "efficient": [small, other]}, FakeClock()
    )
    request = make_request(complexity=2, max_tokens=1000)

    expected = estimate_cost(request, "p:big", router.prices).usd  # fallback may reach premium
    assert router.estimate(request) == pytest.approx(expected)
    premium_only = make_request(tier="premium", max_tokens=1000)
    assert router.estimate(premium_only) == pytest.approx(expected)
    # the estimate is an upper bound of what the answer costs
    response = router.request(request)
    assert response.cost_usd <= router.estimate(request)


def test_usage_beyond_the_estimate_is_still_priced() -> None:
    big = Scripted("p:big", usage=Usage(input_tokens=10, output_tokens=100_000))
    router = make_router({"premium": [big]}, FakeClock())
    response = router.request(make_request(complexity=9, max_tokens=1000))
    assert response.cost_usd == pytest.approx(10 * 10e-6 + 100_000 * 20e-6)


def test_the_router_is_safe_to_share_between_threads() -> None:
    clock = FakeClock()
    flaky = Scripted("p:mid", [ProviderUnavailable("p", "5xx")] * 20)
    steady = Scripted("q:mid")
    router = make_router({"standard": [flaky, steady]}, clock, attempts=2)
    results: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        response = router.request(make_request())
        with lock:
            results.append(response.model)

    threads = [threading.Thread(target=call) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(results) == 40
    assert flaky.calls + steady.calls == 40 + 20  # every scripted failure was met exactly once


def test_calls_tokens_retries_and_cost_are_metrics() -> None:
    """A metered router counts every request in the metrics, by provider, model, tier and
    role: the failed try, the answer, its tokens and cost, then the same ask from the cache."""

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    call = {"provider": "q", "model": "q:small", "tier": "efficient", "role": "tester"}
    names = [
        ("vitco_model_calls_total", {**call, "outcome": "ok"}),
        ("vitco_model_calls_total", {**call, "outcome": "timeout"}),
        ("vitco_model_calls_total", {**call, "outcome": "cached"}),
        ("vitco_model_cache_hits_total", call),
        ("vitco_model_tokens_total", {**call, "direction": "input"}),
        ("vitco_model_tokens_total", {**call, "direction": "output"}),
        ("vitco_model_retries_total", {"model": "q:small"}),
        ("vitco_model_cost_usd_total", call),
    ]
    before = [sample(name, **labels) for name, labels in names]
    small = Scripted("q:small", [ProviderTimeout("q", "slow")])
    router = make_router(
        {"efficient": [small]}, FakeClock(), cache=MemoryResponseCache(), cache_ttl_s=60
    )
    metered = router.metered(Meter())
    metered.request(make_request(role="tester", complexity=1))
    metered.request(make_request(role="tester", complexity=1))
    after = [sample(name, **labels) for name, labels in names]
    deltas = [b - a for a, b in zip(before, after, strict=True)]
    assert deltas[:-1] == [1, 1, 1, 1, 1000, 500, 1]
    assert deltas[-1] == pytest.approx(1000 * 0.5e-6 + 500 * 1e-6)


def test_a_router_needs_a_model() -> None:
    with pytest.raises(ValueError):
        Router({})


def test_retry_policies_reject_nonsense_and_say_when_to_stop() -> None:
    for bad in ({"attempts": 0}, {"jitter": 1.5}, {"base_delay_s": -1}):
        with pytest.raises(ValueError):
            RetryPolicy(**bad)
    policy = RetryPolicy(attempts=2, base_delay_s=1.0, jitter=0.0)
    busy = ProviderUnavailable("p", "503")
    assert retry_delay(policy, 1, busy) == 1.0
    assert retry_delay(policy, 2, busy) is None  # attempts used up
    assert retry_delay(policy, 1, ProviderError("p", "400", status=400)) is None
    assert retry_delay(policy, 1, RateLimited("p", "429", retry_after=0.0)) == 0.0
