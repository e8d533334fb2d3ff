"""The budget guard: refuse before a call that could cross the cap; never overshoot by more
than one call; parallel calls cannot share the last dollar; journaled calls are never blocked."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from tests.llm.routing import FakeClock, Scripted, make_request, make_router
from vitco.llm.budget import BudgetedModel, estimator_for
from vitco.llm.cassette import CassetteRecorder
from vitco.llm.exceptions import BudgetExceeded
from vitco.llm.ledger import JournaledModel
from vitco.llm.model import ModelRequest, ModelResponse, Usage
from vitco.llm.pricing import estimate_cost
from vitco.llm.testing import FunctionModel


def costing(cost: float) -> FunctionModel:
    return FunctionModel(lambda r: ModelResponse(content="{}", model="m", cost_usd=cost))


def test_a_call_that_fits_is_made_and_one_that_would_cross_is_refused_before() -> None:
    inner = costing(0.4)
    ledger = [0.0]
    model = BudgetedModel(inner, 1.0, spent=lambda: ledger[0], estimate=lambda r: 0.5)

    model.request(make_request())
    ledger[0] += 0.4
    model.request(make_request())  # 0.4 spent + 0.5 estimated fits under 1.0
    ledger[0] += 0.4
    with pytest.raises(BudgetExceeded) as info:  # 0.8 + 0.5 would not
        model.request(make_request())
    assert len(inner.requests) == 2  # the third was refused before it was sent
    error = info.value
    assert error.spent_usd == pytest.approx(0.8)
    assert error.cap_usd == 1.0 and error.next_call_usd == 0.5
    assert "budget exceeded" in str(error)


def test_answers_not_yet_in_the_ledger_still_count() -> None:
    inner = costing(0.4)
    model = BudgetedModel(inner, 1.0, spent=lambda: 0.0, estimate=lambda r: 0.3)
    model.request(make_request())
    model.request(make_request())  # 0.4 known + 0.3 <= 1.0
    with pytest.raises(BudgetExceeded):  # 0.8 + 0.3 > 1.0 though the ledger says 0
        model.request(make_request())
    assert model.spent_usd() == pytest.approx(0.8)


def test_spend_never_exceeds_the_cap_by_more_than_one_call() -> None:
    rng = random.Random(3)
    costs: list[float] = []

    def answer(request: ModelRequest) -> ModelResponse:
        cost = rng.uniform(0.0, 0.2)  # sometimes more than the estimate
        costs.append(cost)
        return ModelResponse(content="{}", model="m", cost_usd=cost)

    spent = [0.0]
    model = BudgetedModel(FunctionModel(answer), 2.0, lambda: spent[0], lambda r: 0.1)
    with pytest.raises(BudgetExceeded):
        for _ in range(1000):
            spent[0] += model.request(make_request()).cost_usd
    assert sum(costs) <= 2.0 + max(costs)
    assert sum(costs) > 2.0 - 0.2  # it did use the budget


def test_parallel_calls_reserve_their_estimates() -> None:
    release = threading.Event()
    started = threading.Semaphore(0)

    def slow(request: ModelRequest) -> ModelResponse:
        started.release()
        release.wait(5)
        return ModelResponse(content="{}", model="m", cost_usd=0.25)

    model = BudgetedModel(FunctionModel(slow), 1.0, lambda: 0.0, lambda r: 0.25)
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
    assert model.spent_usd() == pytest.approx(1.0)


def test_a_failed_call_gives_its_reservation_back() -> None:
    def boom(request: ModelRequest) -> ModelResponse:
        raise RuntimeError("provider exploded")

    model = BudgetedModel(FunctionModel(boom), 1.0, lambda: 0.0, lambda r: 0.9)
    for _ in range(3):
        with pytest.raises(RuntimeError):
            model.request(make_request())
    assert model.spent_usd() == 0.0


class MemoryLedger:
    def __init__(self) -> None:
        self.rows: dict[str, ModelResponse] = {}

    def lookup(self, request: ModelRequest) -> ModelResponse | None:
        return self.rows.get(request.key.label() + request.fingerprint())

    def record(self, request: ModelRequest, response: ModelResponse) -> None:
        self.rows[request.key.label() + request.fingerprint()] = response

    def total(self) -> float:
        return sum(r.cost_usd for r in self.rows.values())


def test_journaled_calls_are_free_and_never_blocked() -> None:
    ledger = MemoryLedger()
    inner = costing(0.6)
    first = JournaledModel(BudgetedModel(inner, 1.0, ledger.total, lambda r: 0.6), ledger)
    done = first.request(make_request(text="one"))
    with pytest.raises(BudgetExceeded):
        first.request(make_request(text="two"))

    # resumed with the same cap: the recorded call is answered, the new one still refused
    again = JournaledModel(BudgetedModel(inner, 1.0, ledger.total, lambda r: 0.6), ledger)
    assert again.request(make_request(text="one")).content == done.content
    with pytest.raises(BudgetExceeded):
        again.request(make_request(text="two"))
    # raised cap: the new call goes through, the old one is still not repeated
    raised = JournaledModel(BudgetedModel(inner, 2.0, ledger.total, lambda r: 0.6), ledger)
    raised.request(make_request(text="one"))
    raised.request(make_request(text="two"))
    assert [r.messages[-1].content for r in inner.requests] == ["one", "two"]


def test_the_estimator_is_found_through_the_wrappers(tmp_path: Path) -> None:
    router = make_router({"premium": [Scripted("p:big")]}, FakeClock())
    recorder = CassetteRecorder(router, tmp_path / "c.jsonl")
    wrapped = JournaledModel(recorder, MemoryLedger())
    request = make_request(complexity=9)
    assert estimator_for(wrapped)(request) == router.estimate(request) > 0


def test_without_a_router_the_model_is_priced_on_its_own_id() -> None:
    model = FunctionModel(lambda r: "{}", model_id="x")
    assert estimator_for(model)(make_request()) == 0.0  # test:x has no price: 0, said so

    class Priced(FunctionModel):
        @property
        def id(self) -> str:
            return "openai:gpt-4.1"

    request = make_request(max_tokens=1000)
    priced = estimator_for(Priced(lambda r: "{}"))(request)
    assert priced == estimate_cost(request, "openai:gpt-4.1").usd
    assert priced >= 1000 * 8e-6  # gpt-4.1 output: $8/M, all 1000 allowed tokens


def test_a_router_call_inside_the_budget_is_priced_by_usage() -> None:
    clock = FakeClock()
    big = Scripted("p:big", usage=Usage(input_tokens=100, output_tokens=100))
    router = make_router({"premium": [big]}, clock)
    spent = [0.0]
    model = BudgetedModel(router, 0.05, lambda: spent[0], router.estimate)
    request = make_request(complexity=9, max_tokens=1000)
    response = model.request(request)
    assert response.cost_usd == pytest.approx(100 * 10e-6 + 100 * 20e-6)
    assert router.estimate(request) > response.cost_usd
