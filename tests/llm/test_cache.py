"""The response cache: identical temperature-0 requests answered free, with a TTL, in the ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.llm.routing import FakeClock, Scripted, make_request, make_router
from vitco.config import Settings
from vitco.llm.cache import MemoryResponseCache, StoreResponseCache, cache_key
from vitco.llm.ledger import journaled
from vitco.llm.model import MAX_ANSWER_BYTES, CallKey, ModelResponse, Usage
from vitco.store import Store, open_database
from vitco.store.db import open_engine
from vitco.workflow.runtime import StoreLedger

DAY = 86400.0


def answer(content: str = '{"a": 1}') -> ModelResponse:
    return ModelResponse(
        content=content,
        usage=Usage(input_tokens=10, output_tokens=5),
        model="p:mid",
        cost_usd=0.5,
        retries=2,
        tier="standard",
    )


def test_the_key_is_model_plus_fingerprint_and_only_at_temperature_zero() -> None:
    request = make_request()
    other_call = request.model_copy(update={"key": CallKey(role="qa", step="x"), "tier": "premium"})
    assert cache_key("p:mid", request) == cache_key("p:mid", other_call)  # same question
    assert cache_key("p:mid", request) != cache_key("q:mid", request)
    assert cache_key("p:mid", request) != cache_key("p:mid", make_request(text="Other."))
    assert cache_key("p:mid", make_request(temperature=0.7)) is None


def test_memory_cache_expires_too() -> None:
    clock = FakeClock()
    cache = MemoryResponseCache(clock=clock)
    cache.set("k", answer(), ttl_s=10)
    assert cache.get("k") is not None
    clock.advance(10)
    assert cache.get("k") is None


def test_the_router_answers_a_repeated_request_from_the_cache(settings: Settings) -> None:
    clock = FakeClock()
    mid = Scripted("p:mid")
    open_database(settings.resolved_database_url)
    cache = StoreResponseCache(open_engine(settings.resolved_database_url), clock=clock)
    router = make_router({"standard": [mid]}, clock, cache=cache, cache_ttl_s=DAY)

    first = router.request(make_request())
    again = router.request(make_request())
    warm = router.request(make_request(temperature=0.5))

    assert mid.calls == 2  # the repeat was not sent; the temperature-0.5 request was
    assert first.cached is False and first.cost_usd > 0
    assert again.cached is True and again.cost_usd == 0.0
    assert (again.content, again.model, again.tier) == (first.content, "p:mid", "standard")
    assert warm.cached is False
    assert router.estimate(make_request()) == 0.0  # a cached call costs nothing
    assert router.estimate(make_request(text="new")) > 0

    clock.advance(DAY)
    assert router.request(make_request()).cached is False
    assert mid.calls == 3


def test_a_cache_hit_needs_no_healthy_provider(tmp_path: Path) -> None:
    clock = FakeClock()
    mid = Scripted("p:mid")
    router = make_router(
        {"standard": [mid]},
        clock,
        breaker_failures=1,
        cache=MemoryResponseCache(clock=clock),
        cache_ttl_s=DAY,
    )
    router.request(make_request())
    router.breakers.get("p").failure("down")  # the provider's breaker opens
    assert router.request(make_request()).cached is True


def test_cache_hits_are_marked_in_the_ledger(settings: Settings, tmp_path: Path) -> None:
    store = Store(open_database(settings.resolved_database_url))
    project = store.create_project("p", str(tmp_path))
    brief = store.create_brief(project.id, "cli", "A brief.")
    run_id = store.create_run(project.id, brief.id, "router", "deliver-project").id
    clock = FakeClock()
    router = make_router(
        {"standard": [Scripted("p:mid")]},
        clock,
        cache=MemoryResponseCache(clock=clock),
        cache_ttl_s=DAY,
    )
    model = journaled(router, StoreLedger(store, run_id, project.id))

    model.request(make_request())
    # the same question asked by another call of the run (the journal does not know it)
    twin = make_request().model_copy(update={"key": CallKey(role="developer", step="again")})
    model.request(twin)

    first, second = store.calls(run_id=run_id)
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert first.cost_usd > 0 and second.cost_usd == 0.0
    assert second.response == first.response
    assert store.spent_usd(project.id) == pytest.approx(first.cost_usd)


def test_an_answer_too_large_to_journal_is_never_cached() -> None:
    clock = FakeClock()
    huge = "x" * (MAX_ANSWER_BYTES + 1)
    mid = Scripted("p:mid", default=huge)
    cache = MemoryResponseCache(clock=clock)
    router = make_router({"standard": [mid]}, clock, cache=cache, cache_ttl_s=DAY)

    assert router.request(make_request()).content == huge
    assert router.request(make_request()).cached is False  # asked again: nothing was kept
    assert mid.calls == 2
