"""The budget guard: every request (each retry, fallback and repair, not only each ask) is
admitted before it is sent; a request that could cross the cap is refused; spend never passes
the cap by more than one request; parallel requests cannot share the last dollar; journaled
calls are never blocked; a model with no known price is refused unless accepted."""

from __future__ import annotations

import random
import threading

import pytest

from tests.llm.routing import FakeClock, Priced, Scripted, make_request, make_router
from vitco.llm.budget import Budget
from vitco.llm.exceptions import BadResponse, BudgetExceeded, UnpricedModel
from vitco.llm.ledger import journaled
from vitco.llm.meter import Attempt, Meter, MeteredModel
from vitco.llm.model import ModelRequest, ModelResponse, Usage
from vitco.llm.pricing import Cost, estimate_cost
from vitco.llm.testing import FunctionModel


def usd(amount: float) -> Cost:
    return Cost(usd=amount, known=True, source="override")


# the arithmetic -----------------------------------------------------------------------------


def test_a_request_that_fits_is_admitted_and_one_that_would_cross_is_refused() -> None:
    ledger = [0.0]
    budget = Budget(1.0, lambda: ledger[0])
    budget.settle(budget.admit("m", usd(0.5)), 0.4)
    ledger[0] += 0.4
    budget.settle(budget.admit("m", usd(0.5)), 0.4)  # 0.4 spent + 0.5 estimated fits in 1.0
    ledger[0] += 0.4
    with pytest.raises(BudgetExceeded) as info:  # 0.8 + 0.5 would not
        budget.admit("m", usd(0.5))
    error = info.value
    assert error.spent_usd == pytest.approx(0.8)
    assert error.cap_usd == 1.0 and error.next_call_usd == 0.5
    assert "budget exceeded" in str(error)


def test_settled_spend_not_yet_in_the_ledger_still_counts() -> None:
    budget = Budget(1.0, lambda: 0.0)
    budget.settle(budget.admit("m", usd(0.3)), 0.4)
    budget.settle(budget.admit("m", usd(0.3)), 0.4)  # 0.4 known + 0.3 <= 1.0
    with pytest.raises(BudgetExceeded):  # 0.8 + 0.3 > 1.0 though the ledger says 0
        budget.admit("m", usd(0.3))
    assert budget.spent_usd() == pytest.approx(0.8)


def test_an_unpriced_model_is_refused_naming_it_and_both_fixes() -> None:
    unknown = Cost(usd=0.0, known=False, source="unknown")
    with pytest.raises(UnpricedModel) as info:
        Budget(5.0, lambda: 0.0).admit("box:qwen2.5", unknown)
    message = str(info.value)
    assert info.value.model_id == "box:qwen2.5" and info.value.cap_usd == 5.0
    assert "box:qwen2.5" in message and "$5.00" in message
    assert '[prices] "box:qwen2.5"' in message and "VITCO_ALLOW_UNPRICED=1" in message
    # accepted explicitly: admitted (at 0: the cap cannot limit it, as the user was told)
    assert Budget(5.0, lambda: 0.0, allow_unpriced=True).admit("box:qwen2.5", unknown) == 0.0


# through a model ----------------------------------------------------------------------------

# $250 per million output tokens: a request with max_tokens=1000 is estimated at $0.25 (plus
# its input, priced at 0)
PRICES = {"test:function": (0.0, 250.0, 0.0)}


def test_spend_never_exceeds_the_cap_by_more_than_one_request() -> None:
    rng = random.Random(3)
    costs: list[float] = []

    def answer(request: ModelRequest) -> ModelResponse:
        cost = rng.uniform(0.0, 0.4)  # sometimes more than the estimate
        costs.append(cost)
        return ModelResponse(content="{}", model="m", cost_usd=cost)

    spent = [0.0]
    attempts: list[Attempt] = []
    budget = Budget(2.0, lambda: spent[0])
    model = MeteredModel(
        FunctionModel(answer), Meter(attempts.append, budget=budget), prices=PRICES
    )
    with pytest.raises(BudgetExceeded):
        for _ in range(1000):
            spent[0] += model.request(make_request()).cost_usd
    assert sum(costs) <= 2.0 + max(costs)
    assert sum(costs) > 2.0 - 0.5  # it did use the budget
    assert [a.cost_usd for a in attempts] == pytest.approx(costs)  # every request recorded


def test_parallel_requests_reserve_their_estimates() -> None:
    release = threading.Event()
    started = threading.Semaphore(0)

    def slow(request: ModelRequest) -> ModelResponse:
        started.release()
        release.wait(5)
        return ModelResponse(content="{}", model="m", cost_usd=0.25)

    budget = Budget(1.0, lambda: 0.0)
    model = MeteredModel(FunctionModel(slow), Meter(budget=budget), prices=PRICES)
    assert estimate_cost(make_request(), "test:function", PRICES).usd == pytest.approx(0.25)
    outcomes: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        try:
            model.request(make_request())
            result = "ok"
        except BudgetExceeded:
            result = "refused"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for _ in range(4):
        assert started.acquire(timeout=5)
    release.set()
    for t in threads:
        t.join(timeout=5)
    assert sorted(outcomes) == ["ok"] * 4 + ["refused"] * 2
    assert budget.spent_usd() == pytest.approx(1.0)


def test_a_request_that_was_never_answered_gives_its_reservation_back() -> None:
    def boom(request: ModelRequest) -> ModelResponse:
        raise RuntimeError("a defect, not a provider's answer")

    budget = Budget(1.0, lambda: 0.0)
    attempts: list[Attempt] = []
    model = MeteredModel(FunctionModel(boom), Meter(attempts.append, budget=budget), prices=PRICES)
    for _ in range(6):  # 6 x 0.25 reserved would cross 1.0 if they were kept
        with pytest.raises(RuntimeError):
            model.request(make_request())
    assert budget.spent_usd() == 0.0 and attempts == []


class MemoryLedger:
    def __init__(self) -> None:
        self.rows: dict[str, Attempt] = {}

    def lookup(self, request: ModelRequest) -> ModelResponse | None:
        row = self.rows.get(request.key.label() + request.fingerprint())
        return ModelResponse(content=row.content, model=row.model) if row else None

    def record(self, attempt: Attempt) -> None:
        self.rows[attempt.request.key.label() + attempt.request.fingerprint()] = attempt

    def reject(self, request: ModelRequest, reason: str) -> None:
        pass

    def total(self) -> float:
        return sum(r.cost_usd for r in self.rows.values())


def test_journaled_calls_are_free_and_never_blocked() -> None:
    ledger = MemoryLedger()
    inner = FunctionModel(lambda r: ModelResponse(content="{}", model="m", cost_usd=0.6))
    priced = Priced(inner, {"test:function": (0.0, 600.0, 0.0)})  # estimated at $0.60

    first = journaled(priced, ledger, budget=Budget(1.0, ledger.total))
    done = first.request(make_request(text="one"))
    with pytest.raises(BudgetExceeded):
        first.request(make_request(text="two"))

    # resumed with the same cap: the recorded call is answered, the new one still refused
    again = journaled(priced, ledger, budget=Budget(1.0, ledger.total))
    assert again.request(make_request(text="one")).content == done.content
    with pytest.raises(BudgetExceeded):
        again.request(make_request(text="two"))
    # raised cap: the new call goes through, the old one is still not repeated
    raised = journaled(priced, ledger, budget=Budget(2.0, ledger.total))
    raised.request(make_request(text="one"))
    raised.request(make_request(text="two"))
    assert [r.messages[-1].content for r in inner.requests] == ["one", "two"]


# through the router: each try is a request ---------------------------------------------------


def test_the_router_admits_each_try_and_refuses_the_retry_that_would_cross() -> None:
    clock = FakeClock()
    usage = Usage(input_tokens=100, output_tokens=100)
    billed = BadResponse("p", "the response has no content", usage=usage)  # a 200, billed
    big = Scripted("p:big", [billed], usage=usage)
    attempts: list[Attempt] = []
    request = make_request(complexity=9, max_tokens=1000)
    estimate = estimate_cost(request, "p:big", make_router({"premium": [big]}, clock).prices).usd
    paid = 100 * 10e-6 + 100 * 20e-6
    # room for one request and what the failed one cost, not for the retry's estimate on top
    budget = Budget(estimate + paid / 2, lambda: sum(a.cost_usd for a in attempts))
    router = make_router({"premium": [big]}, clock).metered(Meter(attempts.append, budget=budget))
    with pytest.raises(BudgetExceeded):
        router.request(request)
    assert big.calls == 1  # the retry was refused before it was sent
    assert [a.outcome for a in attempts] == ["bad_response"]
    assert [a.cost_usd for a in attempts] == pytest.approx([paid])
    assert budget.spent_usd() == pytest.approx(paid)

    roomy = Budget(10.0, lambda: 0.0)
    attempts.clear()
    big.script.append(billed)
    answer = make_router({"premium": [big]}, clock).metered(Meter(attempts.append, budget=roomy))
    response = answer.request(request)
    assert [a.outcome for a in attempts] == ["bad_response", "ok"]
    assert response.cost_usd == pytest.approx(paid)
    assert roomy.spent_usd() == pytest.approx(2 * paid)  # both requests were paid for
