"""Calling a role: build the request, validate the typed answer, repair once.

An agent's answer is parsed into the role's pydantic output type. If it fails validation, the
model gets its own answer back with the validation errors and one chance to correct it; a second
failure raises ``OutputInvalid`` with the errors, never a guess.

Escalation: when the answers came through the router (the response says which tier answered)
and a stronger tier exists, the failed repair is sent once more to the tier above, with the
latest answer and its errors, before giving up. One weak answer does not end the run, and the
stronger (dearer) model is only paid for when the cheap one has failed twice.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from vitco.agents.exceptions import OutputInvalid
from vitco.agents.role import Role
from vitco.llm.model import (
    CallKey,
    Message,
    Model,
    ModelRequest,
    ModelResponse,
    Tier,
    tier_above,
)

OutputT = TypeVar("OutputT", bound=BaseModel)
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n\s*```\s*$", re.DOTALL)
MAX_ERRORS = 8


@dataclass(frozen=True)
class Answer(Generic[OutputT]):
    """A validated output and the model responses it took (one, or two with a repair)."""

    output: OutputT
    responses: tuple[ModelResponse, ...]


def render_sections(sections: Mapping[str, Any]) -> str:
    """The user message: one Markdown section per named input, in the given order."""
    parts = []
    for title, value in sections.items():
        if value is None or value == "" or value == [] or value == {}:
            continue
        text = value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True)
        parts.append(f"## {title}\n\n{text.strip()}")
    return "\n\n".join(parts)


def parse_output(
    output_type: type[OutputT], content: str, context: Mapping[str, Any] | None = None
) -> OutputT:
    """Validate a model's answer; a surrounding Markdown code fence is tolerated. ``context``
    is pydantic's validation context (e.g. the toolchains a plan may name)."""
    match = _FENCE.match(content)
    return output_type.model_validate_json(
        match.group(1) if match else content, context=dict(context or {})
    )


def describe_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors()[:MAX_ERRORS]:
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        lines.append(f"- {where}: {err['msg']}")
    if exc.error_count() > MAX_ERRORS:
        lines.append(f"- ... and {exc.error_count() - MAX_ERRORS} more")
    return "\n".join(lines)


def output_schema(output: type[BaseModel]) -> dict[str, Any]:
    """``output``'s JSON schema, a copy of its own for each request. pydantic builds it anew
    at every call (0.45-0.8 ms for ``Spec``, ``Plan`` and ``Changeset``, once per model call);
    its text is kept per type, and reading it back costs 0.01 ms."""
    loaded: dict[str, Any] = json.loads(_schema_text(output))
    return loaded


@functools.lru_cache(maxsize=64)
def _schema_text(output: type[BaseModel]) -> str:
    return json.dumps(output.model_json_schema())


def build_request(
    role: Role,
    key: CallKey,
    sections: Mapping[str, Any],
    complexity: int | None = None,
    tier: Tier | None = None,
    output: type[BaseModel] | None = None,
) -> ModelRequest:
    """The request for one call of ``role``; ``output`` (default: the role's) is the type the
    answer must validate as, and whose JSON schema the model is given."""
    output = output or role.output
    return ModelRequest(
        key=key,
        messages=(
            Message(role="system", content=role.prompt),
            Message(role="user", content=render_sections(sections)),
        ),
        output_name=output.__name__,
        output_schema=output_schema(output),
        complexity=complexity or role.complexity,
        tier=tier,
    )


def ask(
    model: Model,
    role: Role,
    output_type: type[OutputT],
    key: CallKey,
    sections: Mapping[str, Any],
    *,
    complexity: int | None = None,
    tier: Tier | None = None,
    context: Mapping[str, Any] | None = None,
) -> Answer[OutputT]:
    """Ask ``role`` for one typed answer; one repair attempt on a validation failure, then
    one escalation a tier up when the model is routed (see the module docstring). ``context``
    is handed to validation (see ``parse_output``)."""
    request = build_request(role, key, sections, complexity, tier, output_type)
    first = model.request(request)
    try:
        return Answer(parse_output(output_type, first.content, context), (first,))
    except ValidationError as exc:
        errors = _rejected(model, request, exc)
    second_request = repair_request(request, key.repair + 1, first.content, errors)
    second = model.request(second_request)
    try:
        return Answer(parse_output(output_type, second.content, context), (first, second))
    except ValidationError as exc:
        errors = _rejected(model, second_request, exc)
    up = tier_above(second.tier) if second.tier is not None else None
    if up is None:
        raise OutputInvalid(role.name, key.label(), request.output_name, errors)
    escalated = repair_request(request, key.repair + 2, second.content, errors, tier=up)
    third = model.request(escalated)
    try:
        return Answer(parse_output(output_type, third.content, context), (first, second, third))
    except ValidationError as exc:
        errors = _rejected(model, escalated, exc)
        raise OutputInvalid(role.name, key.label(), request.output_name, errors) from exc


def _rejected(model: Model, request: ModelRequest, error: ValidationError) -> str:
    """The errors of an answer that failed validation, told to the model's ledger (when it
    keeps one) so that the request is recorded as ``invalid``, not ``ok``."""
    errors = describe_errors(error)
    reject = getattr(model, "reject", None)
    if callable(reject):
        reject(request, errors)
    return errors


def repair_request(
    request: ModelRequest, repair: int, answer: str, errors: str, *, tier: Tier | None = None
) -> ModelRequest:
    """``request`` again, with the invalid ``answer`` and its ``errors`` appended.

    ``repair`` numbers the retry in the call key; ``tier`` (escalation) pins the tier.
    """
    return request.model_copy(
        update={
            "key": request.key.model_copy(update={"repair": repair}),
            "tier": tier or request.tier,
            "messages": (
                *request.messages,
                Message(role="assistant", content=answer),
                Message(
                    role="user",
                    content=(
                        f"Your answer is not a valid {request.output_name}:\n{errors}\n\n"
                        "Answer again with one corrected JSON object and nothing else."
                    ),
                ),
            ),
        }
    )
