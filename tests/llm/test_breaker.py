"""Circuit breakers: open after K failures, skip until the cool-down, probe once, close again."""

from __future__ import annotations

import threading

import pytest

from tests.llm.routing import FakeClock, Scripted, make_request, make_router
from vitco.llm.breaker import BreakerPolicy, CircuitBreaker
from vitco.llm.exceptions import AllModelsFailed, ProviderError, ProviderUnavailable
from vitco.observability.metrics import REGISTRY

K = 3
COOLDOWN = 30.0


def gauge(provider: str) -> float | None:
    return REGISTRY.get_sample_value("vitco_breaker_state", {"provider": provider})


def test_opens_after_k_consecutive_failures_and_counts_only_consecutive_ones() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("p", BreakerPolicy(K, COOLDOWN), clock)
    breaker.failure("e1")
    breaker.failure("e2")
    breaker.success()  # resets the count
    assert breaker.status().failures == 0
    assert [breaker.failure(f"e{i}") for i in range(K)] == [False, False, True]
    status = breaker.status()
    assert status.state == "open" and status.last_error == "e2"
    assert status.retry_in_s == COOLDOWN
    assert not breaker.allow()


def test_after_the_cooldown_exactly_one_probe_goes_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("p", BreakerPolicy(1, COOLDOWN), clock)
    breaker.failure("down")
    clock.advance(COOLDOWN - 0.1)
    assert not breaker.allow()
    clock.advance(0.1)
    assert breaker.allow()  # the probe
    assert breaker.status().state == "half_open"
    assert not breaker.allow()  # nobody else while the probe is out
    breaker.success()
    assert breaker.status().state == "closed"
    assert breaker.allow() and breaker.allow()


def test_a_failed_probe_reopens_for_another_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("p", BreakerPolicy(2, COOLDOWN), clock)
    breaker.failure("a")
    breaker.failure("b")
    clock.advance(COOLDOWN)
    assert breaker.allow()
    assert breaker.failure("still down") is True  # one failure in half-open is enough
    assert breaker.status().state == "open"
    clock.advance(COOLDOWN / 2)
    assert not breaker.allow()
    clock.advance(COOLDOWN / 2)
    assert breaker.allow()


def test_a_probe_that_never_reports_is_replaced_after_a_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("p", BreakerPolicy(1, COOLDOWN), clock)
    breaker.failure("down")
    clock.advance(COOLDOWN)
    assert breaker.allow()
    clock.advance(COOLDOWN)
    assert breaker.allow()


def test_a_released_probe_lets_the_next_call_probe() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("p", BreakerPolicy(1, COOLDOWN), clock)
    breaker.failure("down")
    clock.advance(COOLDOWN)
    assert breaker.allow()
    breaker.release()
    assert breaker.allow()


def test_only_one_of_many_threads_gets_the_probe() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("p", BreakerPolicy(1, COOLDOWN), clock)
    breaker.failure("down")
    clock.advance(COOLDOWN)
    allowed: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def probe() -> None:
        start.wait()
        result = breaker.allow()
        with lock:
            allowed.append(result)

    threads = [threading.Thread(target=probe) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    assert allowed.count(True) == 1 and len(allowed) == 16


def test_a_provider_that_fails_k_times_is_skipped_until_its_cooldown_then_probed() -> None:
    clock = FakeClock()
    flaky = Scripted("p:mid", default=ProviderUnavailable("p", "HTTP 503"))
    backup = Scripted("q:mid")
    router = make_router(
        {"standard": [flaky, backup]}, clock, attempts=1, breaker_failures=K, cooldown_s=COOLDOWN
    )

    for _ in range(K):  # each call: one failed try on p, answered by q
        assert router.request(make_request()).model == "q:mid"
    assert flaky.calls == K
    assert router.breakers.status("p").state == "open"
    assert gauge("p") == 2

    for _ in range(5):  # skipped without a call while open
        response = router.request(make_request())
        assert response.model == "q:mid"
        assert response.retries == 1  # the skip is a failure the ledger shows
    assert flaky.calls == K

    clock.advance(COOLDOWN)
    flaky.default = '{"ok": true}'  # the provider came back
    assert router.request(make_request()).model == "p:mid"  # the probe
    assert flaky.calls == K + 1
    assert router.breakers.status("p").state == "closed"
    assert gauge("p") == 0


def test_a_failed_probe_keeps_the_provider_skipped() -> None:
    clock = FakeClock()
    flaky = Scripted("p:mid", default=ProviderUnavailable("p", "HTTP 503"))
    router = make_router(
        {"standard": [flaky, Scripted("q:mid")]},
        clock,
        attempts=3,
        breaker_failures=2,
        cooldown_s=COOLDOWN,
    )
    router.request(make_request())  # two failures open p before its third try
    assert flaky.calls == 2
    clock.advance(COOLDOWN)
    router.request(make_request())  # the probe fails: no retries of a failed probe
    assert flaky.calls == 3
    router.request(make_request())
    assert flaky.calls == 3
    assert router.breakers.status("p").state == "open"


def test_when_every_breaker_is_open_the_error_says_so() -> None:
    clock = FakeClock()
    down = Scripted("p:mid", default=ProviderUnavailable("p", "HTTP 503"))
    router = make_router({"standard": [down]}, clock, attempts=1, breaker_failures=1)
    with pytest.raises(AllModelsFailed):
        router.request(make_request())
    with pytest.raises(AllModelsFailed) as info:
        router.request(make_request())
    assert info.value.failures == [("p:mid", "skipped: p breaker open, probe in 30s")]


def test_client_errors_do_not_open_the_breaker() -> None:
    clock = FakeClock()
    bad = Scripted("p:mid", default=ProviderError("p", "HTTP 400: bad schema", status=400))
    router = make_router({"standard": [bad, Scripted("q:mid")]}, clock, breaker_failures=1)
    for _ in range(3):
        router.request(make_request())
    assert bad.calls == 3
    assert router.breakers.status("p").state == "closed"


def test_policies_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        BreakerPolicy(failures=0)
    with pytest.raises(ValueError):
        BreakerPolicy(cooldown_s=-1)
