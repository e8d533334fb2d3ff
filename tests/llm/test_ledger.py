"""The journal: a call this run already answered is served from the ledger, not the model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.llm.routing import Priced
from vitco.config import Settings
from vitco.llm.exceptions import AnswerTooLarge, AnswerTruncated, LLMError, ProviderError
from vitco.llm.ledger import MAX_ANSWER_BYTES, journaled
from vitco.llm.meter import Attempt
from vitco.llm.model import CallKey, Message, ModelRequest, ModelResponse, Usage
from vitco.llm.testing import FunctionModel
from vitco.store import Store, open_database
from vitco.workflow.runtime import StoreLedger


@pytest.fixture
def store(settings: Settings) -> Store:
    return Store(open_database(settings.resolved_database_url))


def _run(store: Store, project_id: str) -> str:
    brief = store.create_brief(project_id, "cli", "A todo API.")
    return store.create_run(project_id, brief.id, "test", "deliver-project").id


def _request(text: str = "Implement T1.", attempt: int = 1) -> ModelRequest:
    return ModelRequest(
        key=CallKey(role="developer", step="implement", task="T1", attempt=attempt),
        messages=(Message(role="user", content=text),),
        output_name="Changeset",
        output_schema={"type": "object"},
        tier="standard",
    )


def _counting_model() -> FunctionModel:
    def answer(request: ModelRequest) -> ModelResponse:
        n = len(model.requests)
        return ModelResponse(
            content=f'{{"answer": {n}}}',
            usage=Usage(input_tokens=100, output_tokens=20 + n),
            model="openai:gpt-x",
            cost_usd=0.01 * n,
            latency_s=1.5,
        )

    model = FunctionModel(answer)
    return model


def test_a_repeated_request_is_answered_from_the_ledger(store: Store, tmp_path: Path) -> None:
    project = store.create_project("p", str(tmp_path))
    run_id = _run(store, project.id)
    inner = _counting_model()

    first = journaled(inner, StoreLedger(store, run_id, project.id)).request(_request())
    # a resumed step builds a new model over the same run's ledger
    again = journaled(inner, StoreLedger(store, run_id, project.id)).request(_request())

    assert len(inner.requests) == 1
    assert again.content == first.content == '{"answer": 1}'
    assert again.usage.output_tokens == 21
    [row] = store.calls(run_id=run_id)
    assert (row.call_key, row.role, row.step, row.task, row.attempt, row.repair) == (
        "developer/implement/T1#1",
        "developer",
        "implement",
        "T1",
        1,
        0,
    )
    assert (row.model, row.tier, row.cost_usd, row.input_tokens) == (
        "openai:gpt-x",
        "standard",
        0.01,
        100,
    )
    assert row.fingerprint == _request().fingerprint()
    assert store.spent_usd(project.id) == pytest.approx(0.01)


def test_a_changed_request_or_another_key_calls_the_model(store: Store, tmp_path: Path) -> None:
    project = store.create_project("p", str(tmp_path))
    run_id = _run(store, project.id)
    inner = _counting_model()
    model = journaled(inner, StoreLedger(store, run_id, project.id))

    contents = [
        model.request(r).content
        for r in (_request(), _request("Implement T1 again."), _request(attempt=2), _request())
    ]

    assert contents == ['{"answer": 1}', '{"answer": 2}', '{"answer": 3}', '{"answer": 1}']
    assert len(inner.requests) == 3
    assert len(store.calls(run_id=run_id)) == 3


def test_another_run_does_not_reuse_the_answers(store: Store, tmp_path: Path) -> None:
    project = store.create_project("p", str(tmp_path))
    inner = _counting_model()

    for run_id in (_run(store, project.id), _run(store, project.id)):
        journaled(inner, StoreLedger(store, run_id, project.id)).request(_request())

    assert len(inner.requests) == 2
    assert store.spent_usd(project.id) == pytest.approx(0.03)


def test_a_failed_call_is_not_recorded(store: Store, tmp_path: Path) -> None:
    project = store.create_project("p", str(tmp_path))
    run_id = _run(store, project.id)

    def boom(_: ModelRequest) -> str:
        raise RuntimeError("provider down")

    model = journaled(FunctionModel(boom, model_id="down"), StoreLedger(store, run_id, project.id))
    with pytest.raises(RuntimeError):
        model.request(_request())

    assert store.calls(run_id=run_id) == []  # not a provider's answer: nothing to bill
    assert model.id == "test:down"


def test_a_request_a_provider_failed_is_recorded_with_what_it_cost(
    store: Store, tmp_path: Path
) -> None:
    # a 200 whose answer could not be used is billed: its usage and outcome are in the ledger,
    # it counts in the project's spend, and the journal never serves it
    project = store.create_project("p", str(tmp_path))
    run_id = _run(store, project.id)
    answers: Iterator[AnswerTruncated | str] = iter(
        [
            AnswerTruncated(
                "openai", "cut", limit=10, usage=Usage(input_tokens=9, output_tokens=10)
            ),
            '{"ok": true}',
        ]
    )

    def answer(_: ModelRequest) -> str:
        step = next(answers)
        if isinstance(step, Exception):
            raise step
        return step

    prices = {"test:cut": (1_000_000.0, 1_000_000.0, 0.0)}  # $1 a token: easy to read
    inner = FunctionModel(answer, model_id="cut")
    ledger = StoreLedger(store, run_id, project.id)
    model = journaled(Priced(inner, prices), ledger)
    with pytest.raises(AnswerTruncated):
        model.request(_request())
    assert model.request(_request()).content == '{"ok": true}'  # asked again: not journaled

    truncated, ok = store.calls(run_id=run_id)
    assert (truncated.outcome, truncated.response, truncated.max_tokens) == ("truncated", "", None)
    assert (truncated.input_tokens, truncated.output_tokens) == (9, 10)
    assert truncated.cost_usd == pytest.approx(19.0) and "cut" in (truncated.error or "")
    assert ok.outcome == "ok" and ok.response == '{"ok": true}'
    assert store.spent_usd(project.id) == pytest.approx(19.0 + ok.cost_usd)


def test_a_journaled_answer_keeps_the_tier_it_was_answered_on(store: Store, tmp_path: Path) -> None:
    # the agent escalates from the tier a response names: after a resume it must still know it
    project = store.create_project("p", str(tmp_path))
    run_id = _run(store, project.id)
    ledger = StoreLedger(store, run_id, project.id)
    request = _request()
    ledger.record(
        Attempt(request=request, model="x:y", outcome="ok", tier="efficient", content="{}")
    )
    found = ledger.lookup(request)
    assert found is not None and found.tier == "efficient"


# answer size --------------------------------------------------------------------------------


class ListLedger:
    """A ledger that remembers what it was asked to record, and has nothing recorded before."""

    def __init__(self) -> None:
        self.recorded: list[tuple[ModelRequest, ModelResponse]] = []

    def lookup(self, request: ModelRequest) -> ModelResponse | None:
        return None

    def record(self, attempt: Attempt) -> None:
        response = ModelResponse(content=attempt.content, model=attempt.model)
        self.recorded.append((attempt.request, response))

    def reject(self, request: ModelRequest, reason: str) -> None:
        raise AssertionError("nothing is rejected here")


def test_an_answer_over_the_limit_is_refused_and_recorded_without_its_content() -> None:
    ledger = ListLedger()
    head, tail = '{"files": [{"path": "a.py", "content": "', '"}], "message": "Add a"}'
    huge = head + "x" * (2_000_001 - len(head) - len(tail)) + tail  # one byte over
    assert MAX_ANSWER_BYTES == 2_000_000
    model = journaled(FunctionModel(lambda _: huge), ledger)

    with pytest.raises(AnswerTooLarge) as info:
        model.request(_request())

    # the call is in the ledger (its cost counts against the budget), its answer is not
    [(_, kept)] = ledger.recorded
    assert kept.content == ""
    error = info.value
    assert (error.call, error.size, error.limit) == (
        "developer/implement/T1#1",
        2_000_001,
        2_000_000,
    )
    assert str(error) == (
        "the answer to call developer/implement/T1#1 is 2000001 bytes, over the limit of "
        "2000000 bytes; it was not stored"
    )
    # ends the run like other model-layer errors; not a provider failure to retry or fall back on
    assert isinstance(error, LLMError) and not isinstance(error, ProviderError)


def test_the_limit_counts_utf8_bytes_and_an_answer_at_the_limit_is_recorded() -> None:
    ledger = ListLedger()
    answers = iter(["x" * 2_000_000, "é" * 1_000_001])  # the second is 1_000_001 characters
    model = journaled(FunctionModel(lambda _: next(answers)), ledger)

    assert len(model.request(_request()).content) == 2_000_000
    with pytest.raises(AnswerTooLarge) as info:
        model.request(_request(attempt=2))

    assert info.value.size == 2_000_002
    assert info.value.call == "developer/implement/T1#2"
    assert [(r.key.attempt, len(a.content)) for r, a in ledger.recorded] == [
        (1, 2_000_000),
        (2, 0),
    ]


def test_the_limit_is_a_keyword_argument() -> None:
    ledger = ListLedger()
    model = journaled(FunctionModel(lambda _: "0123456789"), ledger, max_answer_bytes=9)

    with pytest.raises(AnswerTooLarge) as info:
        model.request(_request())

    assert (info.value.size, info.value.limit) == (10, 9)
    assert [a.content for _, a in ledger.recorded] == [""]


def test_an_answer_refused_for_its_size_is_asked_again_not_served_from_the_journal() -> None:
    class Journal(ListLedger):
        def lookup(self, request: ModelRequest) -> ModelResponse | None:
            return self.recorded[-1][1] if self.recorded else None

    ledger = Journal()
    answers = iter(["0123456789", "ok"])
    model = journaled(FunctionModel(lambda _: next(answers)), ledger, max_answer_bytes=9)
    with pytest.raises(AnswerTooLarge):
        model.request(_request())
    assert model.request(_request()).content == "ok"  # a resumed run asks again
    assert model.request(_request()).content == "ok"  # then the good answer is journaled
