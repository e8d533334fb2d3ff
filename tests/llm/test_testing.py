"""The test models: ``TestModel`` fills an output schema, ``FunctionModel`` is scripted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError

from vitco.agents.outputs import OUTPUT_TYPES
from vitco.llm.model import CallKey, Message, Model, ModelRequest, ModelResponse, Usage
from vitco.llm.testing import FunctionModel, TestModel, generate

# Their own validators ask for more than a schema can say (content for a write, a tests/ path,
# a '{fd}' argument, a path for a read tool call), so a generated value only has the right shape.
CUSTOM_VALIDATED = {"Changeset", "DeveloperAnswer", "QaTests", "DeployPlan"}


def _request(output: type[BaseModel], text: str = "hello") -> ModelRequest:
    return ModelRequest(
        key=CallKey(role="developer", step="implement", task="T1"),
        messages=(Message(role="system", content="sys"), Message(role="user", content=text)),
        output_name=output.__name__,
        output_schema=output.model_json_schema(),
    )


@pytest.mark.parametrize("name", sorted(set(OUTPUT_TYPES) - CUSTOM_VALIDATED))
def test_test_model_answers_validate_against_the_output_type(name: str) -> None:
    output = OUTPUT_TYPES[name]
    model = TestModel()

    response = model.request(_request(output))

    output.model_validate_json(response.content)
    assert response.model == "test:schema"
    assert response.usage.input_tokens >= 1
    assert response.usage.output_tokens >= 1


@pytest.mark.parametrize("name", sorted(CUSTOM_VALIDATED))
def test_test_model_answers_have_the_right_shape_where_validators_ask_more(name: str) -> None:
    output = OUTPUT_TYPES[name]

    content = TestModel().request(_request(output)).content

    with pytest.raises(ValidationError) as info:
        output.model_validate_json(content)
    # no missing field or wrong type: only the output's own rules fail
    assert {e["type"] for e in info.value.errors()} == {"value_error"}


@pytest.mark.parametrize("name", sorted(CUSTOM_VALIDATED))
def test_test_model_fixed_outputs_cover_custom_validated_types(name: str) -> None:
    fixed: dict[str, Any] = {
        "Changeset": {"files": [{"path": "app.py", "content": "x = 1\n"}], "message": "Add"},
        "QaTests": {"files": [{"path": "tests/test_a.py", "content": "def test_a(): pass\n"}]},
        "DeployPlan": {"start": ["python", "-m", "uvicorn", "app:app", "--fd", "{fd}"]},
        "DeveloperAnswer": {"tools": [{"tool": "read", "path": "app.py"}]},
    }
    output = OUTPUT_TYPES[name]
    model = TestModel(outputs={name: fixed[name]})

    response = model.request(_request(output))

    assert output.model_validate_json(response.content) == output.model_validate(fixed[name])


def test_generate_respects_lengths_bounds_enums_and_optional_fields() -> None:
    class Sample(BaseModel):
        short: str = Field(max_length=4)
        long: str = Field(min_length=20)
        count: int = Field(ge=3)
        kind: str = Field(json_schema_extra={"enum": ["b", "a"]})
        items: list[int] = Field(min_length=2)
        maybe: str | None = None

    schema = Sample.model_json_schema()
    value = generate(schema, schema)

    sample = Sample.model_validate(value)
    assert (len(sample.short), len(sample.long), sample.count, sample.kind) == (4, 20, 3, "b")
    assert len(sample.items) == 2


def test_test_model_records_requests() -> None:
    model = TestModel()
    first, second = _request(OUTPUT_TYPES["Review"], "a"), _request(OUTPUT_TYPES["Spec"], "b")
    model.request(first)
    model.request(second)
    assert model.requests == [first, second]
    assert isinstance(model, Model)


def test_function_model_records_requests_and_answers_with_the_function() -> None:
    seen: list[str] = []

    def answer(request: ModelRequest) -> dict[str, Any]:
        seen.append(request.messages[-1].content)
        return {"verdict": "approve", "echo": request.messages[-1].content}

    model = FunctionModel(answer, model_id="scripted")
    request = _request(OUTPUT_TYPES["Review"], "look at this")

    response = model.request(request)

    assert json.loads(response.content) == {"verdict": "approve", "echo": "look at this"}
    assert response.model == model.id == "test:scripted"
    assert model.requests == [request]
    assert seen == ["look at this"]


def test_function_model_passes_strings_and_full_responses_through() -> None:
    full = ModelResponse(content="{}", usage=Usage(input_tokens=7), model="x", cost_usd=0.5)
    answers: Iterator[str | ModelResponse] = iter(['{"a": 1}', full])
    model = FunctionModel(lambda _: next(answers))

    text = model.request(_request(OUTPUT_TYPES["Spec"]))
    same = model.request(_request(OUTPUT_TYPES["Spec"]))

    assert text.content == '{"a": 1}'
    assert same is full
    assert len(model.requests) == 2
