"""Escalation: an answer still invalid after its repair is retried once, one tier up."""

from __future__ import annotations

import json

import pytest

from tests.llm.routing import FakeClock, Scripted, make_router
from vitco.agents.agent import ask
from vitco.agents.exceptions import OutputInvalid
from vitco.agents.outputs import Review
from vitco.agents.role import load_role
from vitco.llm.model import CallKey, ModelRequest, ModelResponse, Tier
from vitco.llm.testing import FunctionModel

KEY = CallKey(role="reviewer", step="review", task="T1")
VALID = json.dumps({"verdict": "approve", "reasons": []})
INVALID = json.dumps({"verdict": "maybe"})


def tiered(answers: list[tuple[str, Tier | None]]) -> FunctionModel:
    """A model answering in order, each answer saying which tier it came from."""
    queue = list(answers)

    def answer(request: ModelRequest) -> ModelResponse:
        content, tier = queue.pop(0)
        return ModelResponse(content=content, model="m", tier=tier)

    return FunctionModel(answer)


def test_a_routed_answer_invalid_twice_goes_one_tier_up() -> None:
    model = tiered([(INVALID, "efficient"), (INVALID, "efficient"), (VALID, "standard")])

    answer = ask(model, load_role("reviewer"), Review, KEY, {"Task": "x"})

    assert answer.output.verdict == "approve"
    assert len(answer.responses) == 3
    first, repair, escalated = model.requests
    assert (first.tier, repair.tier, escalated.tier) == (None, None, "standard")
    assert [r.key.repair for r in model.requests] == [0, 1, 2]
    assert escalated.messages[-2].content == INVALID  # the stronger model sees what failed
    assert "verdict" in escalated.messages[-1].content


def test_the_escalation_also_failing_ends_in_output_invalid() -> None:
    model = tiered([(INVALID, "standard"), (INVALID, "standard"), (INVALID, "premium")])
    with pytest.raises(OutputInvalid) as info:
        ask(model, load_role("reviewer"), Review, KEY, {"Task": "x"})
    assert len(model.requests) == 3
    assert info.value.call == "reviewer/review/T1#1"


@pytest.mark.parametrize("tier", ["premium", None])
def test_no_escalation_at_the_top_or_without_a_router(tier: Tier | None) -> None:
    model = tiered([(INVALID, tier), (INVALID, tier)])
    with pytest.raises(OutputInvalid):
        ask(model, load_role("reviewer"), Review, KEY, {"Task": "x"})
    assert len(model.requests) == 2


def test_through_a_real_router_the_stronger_chain_answers() -> None:
    weak = Scripted("q:small", default=INVALID)
    strong = Scripted("p:mid", default=VALID)
    router = make_router({"efficient": [weak], "standard": [strong]}, FakeClock())

    answer = ask(router, load_role("reviewer"), Review, KEY, {"Task": "x"}, complexity=2)

    assert answer.output.verdict == "approve"
    assert (weak.calls, strong.calls) == (2, 1)
    assert [r.tier for r in answer.responses] == ["efficient", "efficient", "standard"]
    assert answer.responses[-1].model == "p:mid"
