"""Every request a run's model sends is in the ledger with its usage and outcome, and is a
``model`` event as it happens: a billed answer the provider could not use, an answer rejected
by validation, the repair; the run's cost counts them all. Under a budget a model with no known
price is refused before any request, naming the model and both fixes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workflow.scripted import happy_path, script, write_brief
from vitco.bootstrap import start_run
from vitco.config import Settings
from vitco.llm.exceptions import BadResponse
from vitco.llm.model import ModelRequest, Usage
from vitco.llm.retry import RetryPolicy
from vitco.llm.router import Route, Router
from vitco.sandbox import Sandbox
from vitco.store import open_store

pytestmark = pytest.mark.slow

MODEL_ID = "fake:scripted"
PRICES = {MODEL_ID: (1.0, 2.0, 0.0)}  # USD per million tokens
BILLED = Usage(input_tokens=500, output_tokens=50)


def test_every_request_is_in_the_ledger_and_an_event_whatever_its_outcome(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    answers = happy_path()
    spec = answers["analyst/analyze#1"]
    tries: list[int] = []

    def analyst(request: ModelRequest) -> object:
        tries.append(1)
        if len(tries) == 1:  # a 200 with nothing usable in it: billed, retried
            raise BadResponse("fake", "the response has no content", usage=BILLED)
        return '{"title": 42}'  # answered, then rejected by validation

    answers["analyst/analyze#1"] = analyst
    answers["analyst/analyze#1+repair1"] = spec
    model = script(answers)
    router = Router(
        {"standard": [Route(model, "fake", MODEL_ID)]},
        prices=PRICES,
        retry=RetryPolicy(base_delay_s=0.0),
    )

    report = start_run(settings, write_brief(tmp_path), model=router, sandbox=sandbox).report

    assert report["status"] == "delivered", report["reason"]
    store = open_store(settings)
    run_id = report["run_id"]
    rows = store.calls(run_id=run_id)
    assert len(rows) == len(model.requests)  # every request, not every ask
    analyst_rows = [(r.call_key, r.outcome) for r in rows if r.role == "analyst"]
    assert analyst_rows == [
        ("analyst/analyze#1", "bad_response"),
        ("analyst/analyze#1", "invalid"),
        ("analyst/analyze#1+repair1", "ok"),
    ]
    failed = rows[0]
    assert (failed.input_tokens, failed.output_tokens, failed.response) == (500, 50, "")
    assert failed.cost_usd == pytest.approx(500 * 1e-6 + 50 * 2e-6)
    assert "no content" in (failed.error or "")
    assert report["cost"]["usd"] == pytest.approx(sum(r.cost_usd for r in rows), abs=1e-6)

    events = [e for e in store.events(run_id) if e.kind == "model"]
    recorded = [e for e in events if e.data and e.data.get("model") == MODEL_ID]
    assert len(recorded) == len(rows)  # one event per request, written as it happened
    first = recorded[0].data or {}
    assert (first["role"], first["outcome"], first["tier"]) == (
        "analyst",
        "bad_response",
        "standard",
    )
    assert first["input_tokens"] == 500 and first["cost_usd"] == pytest.approx(failed.cost_usd)
    assert "analyst/analyze#1: fake:scripted [standard] bad_response" in recorded[0].message
    rejected = [e for e in events if (e.data or {}).get("outcome") == "invalid"]
    assert len(rejected) == 1 and "title" in (rejected[0].data or {})["error"]


def test_under_a_budget_an_unpriced_model_is_refused_before_any_request(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    model = script(happy_path())
    router = Router({"standard": [Route(model, "fake", MODEL_ID)]})  # no price for it
    capped = settings.model_copy(update={"budget_usd": 5.0})

    report = start_run(capped, write_brief(tmp_path), model=router, sandbox=sandbox).report

    assert report["status"] == "needs_attention"
    assert MODEL_ID in report["reason"] and "no known price" in report["reason"]
    assert "[prices]" in report["reason"] and "VITCO_ALLOW_UNPRICED=1" in report["reason"]
    assert model.requests == []
