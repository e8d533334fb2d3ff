"""Smoke checks: HTTP requests sent in order to a deployed app, each with what it must answer.

A check names its request (method, path, JSON body) and what the answer must be: a status, a
JSON value the body must contain (``expect_json``, a subset: an object's keys are checked
recursively, a list must hold a matching item for every item expected, a scalar must be
equal) and text the body must contain (``expect_text``). A later check may use what an earlier
one received: ``{{steps.N.body.KEY.0.KEY}}`` (or ``{{steps.N.status}}``) in its path, body or
expectations stands for that value. In a path the value is percent-encoded; a JSON string
that is nothing but a reference becomes the value itself (a number stays a number).

Every answer is read up to ``MAX_BODY_BYTES``; a larger one fails its check. The app is
model-written: its answers are data to compare, never followed (no redirects) nor shown raw.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field

MAX_CHECKS = 20
MAX_BODY_BYTES = 256 * 1024
_EXCERPT = 300
REFERENCE = re.compile(r"\{\{\s*steps\.(\d+)\.(status|body)((?:\.[A-Za-z0-9_-]+)*)\s*\}\}")
_OPEN = re.compile(r"\{\{")


class SmokeRequest(BaseModel):
    """One smoke check as the deploy runs it (``toolchains.plans.SmokeTest`` validated)."""

    method: str = "GET"
    path: str
    json_body: Any = None
    expect_status: int = 200
    expect_json: Any = None
    expect_text: str | None = None


class SmokeResult(BaseModel):
    method: str
    path: str = Field(description="The path as sent, references filled in.")
    status: int | None
    expected: int
    ok: bool
    phase: str = "smoke"
    error: str | None = Field(default=None, description="Why the check failed, if it did.")


def references(value: Any) -> list[int]:
    """The step numbers ``value`` (a string or JSON) refers to, in order of appearance."""
    return [int(m.group(1)) for text in _strings(value) for m in REFERENCE.finditer(text)]


def malformed(value: Any) -> str | None:
    """A ``{{`` in ``value`` that opens no valid reference, if there is one."""
    for text in _strings(value):
        stripped = REFERENCE.sub("", text)
        if (found := _OPEN.search(stripped)) is not None:
            return stripped[found.start() : found.start() + 40]
    return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


class Unresolved(Exception):
    """A reference names a step that has not answered, or a value its body does not hold."""


class SmokeSession:
    """Sends checks in order to one app (or one app and its restart), remembering each
    answer (status and JSON body) for the references of later checks."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.answers: list[tuple[int | None, Any]] = []

    def run(
        self, url: str, requests: list[SmokeRequest], phase: str = "smoke"
    ) -> list[SmokeResult]:
        """Send ``requests`` in order to ``url``; steps are numbered across calls."""
        return [self.check(url, req, phase) for req in requests]

    def check(self, url: str, req: SmokeRequest, phase: str = "smoke") -> SmokeResult:
        result = SmokeResult(
            method=req.method,
            path=req.path,
            status=None,
            expected=req.expect_status,
            ok=False,
            phase=phase,
        )
        try:
            result.path = REFERENCE.sub(lambda m: quote(_text(self._value(m)), safe=""), req.path)
            body = self._fill(req.json_body)
            expect_json = self._fill(req.expect_json)
            expect_text = self._fill(req.expect_text)
        except Unresolved as exc:
            self.answers.append((None, None))
            result.error = str(exc)
            return result
        status, data, text, error = self._send(url, req.method, result.path, body)
        self.answers.append((status, data))
        result.status = status
        result.error = error or _verdict(
            req.expect_status, expect_json, expect_text, status, data, text
        )
        result.ok = result.error is None
        return result

    def _send(
        self, url: str, method: str, path: str, body: Any
    ) -> tuple[int | None, Any, str, str | None]:
        try:
            with self.client.stream(method, url + path, json=body, follow_redirects=False) as resp:
                raw = bytearray()
                for chunk in resp.iter_bytes():
                    raw += chunk
                    if len(raw) > MAX_BODY_BYTES:
                        return (
                            resp.status_code,
                            None,
                            "",
                            (
                                f"the answer is over {MAX_BODY_BYTES} bytes; "
                                "smoke checks read no more"
                            ),
                        )
                status = resp.status_code
        except httpx.HTTPError as exc:
            return None, None, "", f"no answer: {type(exc).__name__}: {exc}"
        text = raw.decode("utf-8", errors="replace")
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            data = None
        return status, data, text, None

    def _value(self, match: re.Match[str]) -> Any:
        step, part, keys = int(match.group(1)), match.group(2), match.group(3)
        if step >= len(self.answers):
            raise Unresolved(f"{match.group(0)}: step {step} has not run before this check")
        status, value = self.answers[step]
        if status is None:
            raise Unresolved(f"{match.group(0)}: step {step} got no answer")
        if part == "status":
            return status
        for key in [k for k in keys.split(".") if k]:
            if isinstance(value, dict) and key in value:
                value = value[key]
            elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
                value = value[int(key)]
            else:
                raise Unresolved(f"{match.group(0)}: step {step}'s body has no {key!r} there")
        return value

    def _fill(self, value: Any) -> Any:
        if isinstance(value, str):
            whole = REFERENCE.fullmatch(value.strip())
            if whole is not None:
                return self._value(whole)
            return REFERENCE.sub(lambda m: _text(self._value(m)), value)
        if isinstance(value, dict):
            return {self._fill(k): self._fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._fill(v) for v in value]
        return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _verdict(
    expect_status: int,
    expect_json: Any,
    expect_text: str | None,
    status: int | None,
    data: Any,
    text: str,
) -> str | None:
    """Why the answer fails the check, or ``None`` when it passes."""
    if status != expect_status:
        return f"status {status}, expected {expect_status}{_excerpt(text)}"
    if expect_json is not None:
        if data is None and text.strip():
            return f"the body is not JSON{_excerpt(text)}"
        mismatch = contains(expect_json, data, "body")
        if mismatch is not None:
            return mismatch + _excerpt(text)
    if expect_text is not None and expect_text not in text:
        return f"the body does not contain {expect_text!r}{_excerpt(text)}"
    return None


def _excerpt(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    cut = text[:_EXCERPT] + ("..." if len(text) > _EXCERPT else "")
    return f"; the body was: {cut!r}"


def contains(expected: Any, actual: Any, where: str) -> str | None:
    """Where ``actual`` fails to contain ``expected`` (see the module docstring), or ``None``."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where} is {_kind(actual)}, expected an object"
        for key, value in expected.items():
            if key not in actual:
                return f"{where}.{key} is missing"
            if (found := contains(value, actual[key], f"{where}.{key}")) is not None:
                return found
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where} is {_kind(actual)}, expected a list"
        for item in expected:
            if all(contains(item, a, where) is not None for a in actual):
                return f"{where} holds no item matching {json.dumps(item)[:100]}"
        return None
    same_kind = isinstance(expected, bool) == isinstance(actual, bool)
    if not same_kind or expected != actual:
        return f"{where} is {json.dumps(actual)[:100]}, expected {json.dumps(expected)[:100]}"
    return None


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else json.dumps(value)
