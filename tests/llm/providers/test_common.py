"""The helpers both adapters share: Retry-After, redaction, JSON output, strict schemas."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.llm.providers.conftest import Spec
from vitco.llm.exceptions import (
    AnswerTruncated,
    BadResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from vitco.llm.model import Usage
from vitco.llm.providers._common import (
    import_sdk,
    is_strict_compatible,
    json_text,
    output_text,
    parse_retry_after,
    redact,
    status_error,
    tool_name,
)

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "12"}, 12.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after": "Wed, 01 Jan 2025 12:00:30 GMT"}, 30.0),
        ({"retry-after": "Wed, 01 Jan 2025 11:59:00 GMT"}, 0.0),  # in the past: go now
        ({"retry-after": "-5"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "junk", "retry-after": "9"}, 9.0),
        ({}, None),
        (None, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str] | None, expected: float | None) -> None:
    assert parse_retry_after(headers, now=NOW) == expected


def test_status_errors_map_to_the_tree() -> None:
    limited = status_error("p", 429, {"retry-after": "3"}, "slow down")
    assert isinstance(limited, RateLimited) and limited.retry_after == 3.0
    assert isinstance(status_error("p", 408, None, ""), ProviderTimeout)
    assert isinstance(status_error("p", 529, None, ""), ProviderUnavailable)
    plain = status_error("p", 401, None, "no")
    assert type(plain) is ProviderError and plain.status == 401


def test_redact_removes_every_secret_and_ignores_empty_ones() -> None:
    text = "key sk-abcdef and again sk-abcdef, token tok-123456"
    assert redact(text, ["sk-abcdef", "tok-123456", None, ""]) == (
        "key [REDACTED] and again [REDACTED], token [REDACTED]"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', '{"a":1}'),
        ('  \n{"a": "é"}\n', '{"a":"é"}'),
        ('```json\n{"a": 1}\n```', '{"a":1}'),
        ("```\n[1, 2]\n```", "[1,2]"),
        ("not json", None),
        ('{"a": ', None),
    ],
)
def test_json_text(text: str, expected: str | None) -> None:
    assert json_text(text) == expected


def test_output_text_rules() -> None:
    with pytest.raises(BadResponse, match="no content"):
        output_text("p", "  ", truncated=False, limit=None)
    with pytest.raises(AnswerTruncated, match="max_tokens=10") as cut:
        output_text(
            "p",
            '{"a": ',
            truncated=True,
            at_limit=True,
            limit=10,
            usage=Usage(input_tokens=1, output_tokens=10),
        )
    assert cut.value.limit == 10 and cut.value.usage == Usage(
        input_tokens=1, output_tokens=10
    )  # billed: usage kept
    with pytest.raises(BadResponse, match="cut off early") as early:
        output_text("p", '{"a": ', truncated=True, limit=10)
    assert not isinstance(early.value, AnswerTruncated)
    assert output_text("p", "prose", truncated=False, limit=None) == "prose"
    assert output_text("p", '{"a": 1}', truncated=True, limit=10) == '{"a":1}'


def test_strict_compatibility() -> None:
    assert not is_strict_compatible(Spec.model_json_schema())
    nested: dict[str, Any] = {
        "type": "object",
        "properties": {"inner": {"$ref": "#/$defs/Inner"}},
        "required": ["inner"],
        "additionalProperties": False,
        "$defs": {
            "Inner": {
                "type": "object",
                "properties": {"x": {"type": "integer"}},
                "required": ["x"],
                "additionalProperties": False,
            }
        },
    }
    assert is_strict_compatible(nested)
    nested["$defs"]["Inner"]["required"] = []
    assert not is_strict_compatible(nested)
    # a property that happens to be called "properties" is not an object schema
    named = {
        "type": "object",
        "properties": {"properties": {"type": "string"}},
        "required": ["properties"],
        "additionalProperties": False,
    }
    assert is_strict_compatible(named)


def test_tool_name_is_what_vendors_accept() -> None:
    assert tool_name("Spec") == "Spec"
    assert tool_name("code review.v2") == "code_review_v2"
    assert tool_name("") == "output"
    assert len(tool_name("x" * 100)) == 64


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(ImportError, match=r"pip install 'vitco\[openai\]'"):
        import_sdk("openai", "openai")
