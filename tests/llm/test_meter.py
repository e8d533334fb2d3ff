"""Metering through the router: every request that reaches a provider is recorded with its
usage and outcome (retries, fallbacks, truncated answers, refused structured modes, cache hits,
interrupts); an answer cut at the output limit is asked again with a higher limit, never
unchanged; a refused structured mode is remembered for the provider."""

from __future__ import annotations

import pytest

from tests.llm.routing import FakeClock, Scripted, make_request, make_router
from vitco.llm.budget import Budget
from vitco.llm.cache import MemoryResponseCache
from vitco.llm.exceptions import (
    AllModelsFailed,
    AnswerTruncated,
    RateLimited,
    StructuredModeRefused,
)
from vitco.llm.meter import Attempt, Meter, outcome_of
from vitco.llm.model import Usage
from vitco.llm.modes import MemoryModes, lower_mode, next_mode
from vitco.llm.pricing import Cost

CUT = Usage(input_tokens=100, output_tokens=1000)


def cut(limit: int | None = 1000) -> AnswerTruncated:
    return AnswerTruncated("p", f"cut off at max_tokens={limit}", limit=limit, usage=CUT)


def test_every_try_and_fallback_is_recorded_with_its_outcome_and_cost() -> None:
    clock = FakeClock()
    mid = Scripted("p:mid", [RateLimited("p", "HTTP 429", retry_after=1.0), cut()])
    big = Scripted("q:mid")
    attempts: list[Attempt] = []
    router = make_router({"standard": [mid], "premium": [big]}, clock).metered(
        Meter(attempts.append)
    )
    request = make_request(max_tokens=1000)
    mid.script.append(cut(2000))  # the raised retry is cut too: on to the next candidate
    response = router.request(request)

    assert response.model == "q:mid" and response.tier == "premium"
    assert [(a.model, a.outcome) for a in attempts] == [
        ("p:mid", "rate_limited"),
        ("p:mid", "truncated"),
        ("p:mid", "truncated"),
        ("q:mid", "ok"),
    ]
    # a truncated answer was billed: its usage is priced (p:mid: $2 in, $4 out per Mtok)
    assert attempts[1].cost_usd == pytest.approx(100 * 2e-6 + 1000 * 4e-6)
    assert attempts[0].cost_usd == 0.0 and attempts[0].usage == Usage()
    # every attempt names the ask it belongs to (the journal's key and fingerprint)
    assert all(a.request is request for a in attempts)
    assert attempts[-1].content == response.content and attempts[-1].answered
    assert [a.retries for a in attempts] == [0, 1, 2, 3]


def test_a_truncated_answer_is_asked_again_with_a_higher_limit_never_unchanged() -> None:
    clock = FakeClock()
    mid = Scripted("p:mid", [cut(1000)])
    attempts: list[Attempt] = []
    router = make_router({"standard": [mid]}, clock).metered(Meter(attempts.append))
    router.request(make_request(max_tokens=1000))

    assert [r.max_tokens for r in mid.requests] == [1000, 4096]  # raised, not repeated
    assert [(a.outcome, a.max_tokens) for a in attempts] == [("truncated", 1000), ("ok", 4096)]
    assert clock.sleeps == []  # no backoff: the server is fine, the limit was too low


def test_the_raised_limit_is_bounded_and_without_a_limit_it_starts_from_the_usage() -> None:
    clock = FakeClock()
    mid = Scripted("p:mid", [cut(None), cut(30_000)])
    router = make_router({"standard": [mid]}, clock)
    router.retry = type(router.retry)(attempts=3, max_output_tokens=8000)
    with pytest.raises(AllModelsFailed) as info:
        router.request(make_request(max_tokens=None))
    # the server's own limit was hit after 1000 tokens: asked for 4096, then the ceiling...
    assert [r.max_tokens for r in mid.requests] == [None, 4096]
    assert "cut off" in str(info.value)

    at_ceiling = Scripted("p:mid", [cut(8000)])
    router = make_router({"standard": [at_ceiling]}, clock)
    router.retry = type(router.retry)(attempts=3, max_output_tokens=8000)
    with pytest.raises(AllModelsFailed):
        router.request(make_request(max_tokens=8000))
    assert at_ceiling.calls == 1  # nothing higher to ask for: not asked again unchanged


def test_a_refused_structured_mode_is_tried_again_at_once_and_remembered() -> None:
    clock = FakeClock()
    refusal = StructuredModeRefused(
        "p", "structured mode json_schema refused", status=500, mode="json_schema", fallback="tool"
    )
    mid = Scripted("p:mid", [refusal])
    attempts: list[Attempt] = []
    modes = MemoryModes()
    router = make_router({"standard": [mid]}, clock, modes=modes).metered(Meter(attempts.append))
    router.request(make_request())

    assert mid.calls == 2 and clock.sleeps == []
    assert [a.outcome for a in attempts] == ["mode_refused", "ok"]
    assert modes.get("p") == "tool"
    assert router.breakers.get("p").status().failures == 0  # not the server's health


def test_cache_hits_are_recorded_as_cached_and_free() -> None:
    clock = FakeClock()
    mid = Scripted("p:mid")
    attempts: list[Attempt] = []
    router = make_router(
        {"standard": [mid]}, clock, cache=MemoryResponseCache(clock=clock), cache_ttl_s=60
    ).metered(Meter(attempts.append))
    router.request(make_request())
    router.request(make_request())
    assert [(a.outcome, a.cached, a.cost_usd > 0) for a in attempts] == [
        ("ok", False, True),
        ("cached", True, False),
    ]


def test_a_request_stopped_while_waiting_is_not_recorded_and_gives_its_reservation_back() -> None:
    # what it cost is unknown and its step runs again on resume: one row per answered call
    clock = FakeClock()
    mid = Scripted("p:mid", [KeyboardInterrupt()])
    attempts: list[Attempt] = []
    budget = Budget(1.0, lambda: 0.0)
    router = make_router({"standard": [mid]}, clock).metered(Meter(attempts.append, budget=budget))
    with pytest.raises(KeyboardInterrupt):
        router.request(make_request())
    assert attempts == [] and budget.spent_usd() == 0.0
    assert budget.admit("p:mid", Cost(usd=1.0, known=True, source="override")) == 1.0


def test_a_router_without_a_meter_records_nothing_and_metered_copies_share_the_rest() -> None:
    clock = FakeClock()
    router = make_router({"standard": [Scripted("p:mid")]}, clock)
    twin = router.metered(Meter())
    assert router.meter is None and twin.meter is not None
    assert twin.breakers is router.breakers and twin.chains == router.chains


def test_outcomes_and_mode_order() -> None:
    assert outcome_of(cut()) == "truncated"
    assert outcome_of(RateLimited("p", "x")) == "rate_limited"
    assert [next_mode(m) for m in ("json_schema", "tool", "json_object", "prompt")] == [
        "tool",
        "json_object",
        "prompt",
        None,
    ]
    assert lower_mode("json_schema", "tool") == "tool"
    assert lower_mode("json_object", "tool") == "json_object"  # never back up the list
    assert lower_mode("tool", None) == "tool"
