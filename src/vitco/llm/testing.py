"""Models for tests: ``TestModel`` fills any output schema, ``FunctionModel`` lets a test script
each answer. Both record the requests they saw.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from vitco.llm.model import ModelRequest, ModelResponse, Usage

Answer = str | dict[str, Any] | ModelResponse


class _Recording:
    def __init__(self) -> None:
        self.requests: list[ModelRequest] = []
        self._lock = threading.Lock()

    def _seen(self, request: ModelRequest) -> None:
        with self._lock:
            self.requests.append(request)


def _usage_for(request: ModelRequest, content: str) -> Usage:
    prompt = sum(len(m.content) for m in request.messages)
    return Usage(input_tokens=max(1, prompt // 4), output_tokens=max(1, len(content) // 4))


def _response(model_id: str, request: ModelRequest, answer: Answer) -> ModelResponse:
    if isinstance(answer, ModelResponse):
        return answer
    content = answer if isinstance(answer, str) else json.dumps(answer)
    return ModelResponse(content=content, usage=_usage_for(request, content), model=model_id)


class FunctionModel(_Recording):
    """Answers each request with ``fn(request)``: a JSON string, a dict, or a full response."""

    def __init__(self, fn: Callable[[ModelRequest], Answer], model_id: str = "function") -> None:
        super().__init__()
        self.fn = fn
        self._id = f"test:{model_id}"

    @property
    def id(self) -> str:
        return self._id

    def request(self, request: ModelRequest) -> ModelResponse:
        self._seen(request)
        return _response(self._id, request, self.fn(request))


class TestModel(_Recording):
    """Answers every request with data generated from its JSON schema.

    ``outputs`` maps an output name (``"Spec"``) to a fixed answer for schemas whose own
    validators a generated value cannot meet.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, outputs: dict[str, Answer] | None = None) -> None:
        super().__init__()
        self.outputs = outputs or {}

    @property
    def id(self) -> str:
        return "test:schema"

    def request(self, request: ModelRequest) -> ModelResponse:
        self._seen(request)
        if request.output_name in self.outputs:
            return _response(self.id, request, self.outputs[request.output_name])
        value = generate(request.output_schema, request.output_schema)
        return _response(self.id, request, value)


def generate(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """A small value that satisfies ``schema`` (types, enums, lengths, required fields)."""
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        return generate(root.get("$defs", {})[name], root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            options = [s for s in schema[combinator] if s.get("type") != "null"]
            return generate((options or schema[combinator])[0], root)
    kind = schema.get("type", "object")
    if kind == "object":
        props: dict[str, Any] = schema.get("properties", {})
        required = schema.get("required", list(props))
        return {k: generate(props[k], root) for k in required if k in props}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [generate(schema.get("items", {}), root) for _ in range(count)]
    if kind == "string":
        length = max(int(schema.get("minLength", 0)), 12)
        return "a" * min(length, int(schema.get("maxLength", length)))
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    return None
