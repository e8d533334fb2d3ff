"""Cassettes: record every model call of a run, replay it later at zero cost.

A cassette is a JSONL file. An optional first line ``{"vitco_cassette": 1, ...}`` carries notes;
every other line is one answered call::

    {"key": {"role": "developer", "step": "implement", "task": "T2", "attempt": 1, "repair": 0},
     "fingerprint": "<sha256 of the full request>",
     "response": {"content": "<JSON text>", "usage": {...}, "model": "openai:gpt-4o"}}

Answers are found by ``key`` (what the call is), so a reworded prompt still replays; in strict
mode the request fingerprint must match too, which turns a cassette into a regression test of
the prompts. Requests are not stored, so neither are the secrets a prompt might carry; the
recorder also scrubs known secret values from responses.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from vitco.llm.exceptions import CassetteError, ReplayMiss
from vitco.llm.meter import Meter, metered
from vitco.llm.model import CallKey, Model, ModelRequest, ModelResponse, Usage
from vitco.observability.redaction import Redactor


class RecordedResponse(BaseModel):
    content: str
    usage: Usage = Usage()
    model: str = "unknown"


class CassetteEntry(BaseModel):
    key: CallKey
    fingerprint: str | None = None
    response: RecordedResponse


def read_cassette(path: Path) -> tuple[dict[str, Any], list[CassetteEntry]]:
    """The header and entries of a cassette; ``CassetteError`` names the bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CassetteError(str(path), f"cannot read it ({exc.strerror or exc})") from exc
    header: dict[str, Any] = {}
    entries: list[CassetteEntry] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CassetteError(str(path), f"line {number} is not JSON ({exc.msg})") from exc
        if isinstance(data, dict) and "vitco_cassette" in data:
            header = data
            continue
        try:
            entries.append(CassetteEntry.model_validate(data))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise CassetteError(str(path), f"line {number}: {where}: {first['msg']}") from exc
    if not entries:
        raise CassetteError(str(path), "has no recorded calls")
    return header, entries


def _answers(path: Path) -> tuple[dict[str, Any], dict[str, list[CassetteEntry]]]:
    """The header of a cassette and its entries by call label, read once per version of the
    file (a model per run, each replaying the same cassette: parsing it again was a tenth of
    a trivial run's CPU). Read-only: a replay keeps what it used apart."""
    try:
        st = path.stat()
    except OSError:
        return _parsed(path, None)  # read_cassette says what is wrong
    return _parsed(path, (st.st_ino, st.st_dev, st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=64)
def _resolved(path: Path, _cwd: str | None) -> Path:
    """``path`` resolved, once per path (and working directory, for a relative one): a model
    is made per run and per accepted webhook (its id names the run's model), and resolving
    walks every component of the path (~0.1 ms)."""
    return path.resolve()


@functools.lru_cache(maxsize=8)
def _parsed(
    path: Path, _version: tuple[int, int, int, int] | None
) -> tuple[dict[str, Any], dict[str, list[CassetteEntry]]]:
    header, entries = read_cassette(path)
    answers: dict[str, list[CassetteEntry]] = {}
    for entry in entries:
        answers.setdefault(entry.key.label(), []).append(entry)
    return header, answers


class ReplayModel:
    """Answers from a cassette; fails loudly on a call it has no answer for."""

    def __init__(
        self,
        path: Path,
        *,
        strict: bool = False,
        latency_s: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = path
        self.strict = strict
        # a provider's answer takes time: benches of throughput give replays one
        self.latency_s, self._sleep = latency_s, sleep
        header, self._answers = _answers(path)
        self.header = dict(header)
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()

    @functools.cached_property
    def id(self) -> str:
        return f"replay:{_resolved(self.path, None if self.path.is_absolute() else os.getcwd())}"

    def request(self, request: ModelRequest) -> ModelResponse:
        label = request.key.label()
        with self._lock:
            answers = self._answers.get(label)
            if not answers:
                raise ReplayMiss(str(self.path), label)
            index = min(self._used.get(label, 0), len(answers) - 1)
            self._used[label] = index + 1
        entry = answers[index]
        if self.latency_s > 0:
            self._sleep(self.latency_s)
        if self.strict and entry.fingerprint != request.fingerprint():
            raise ReplayMiss(
                str(self.path), label, "the request differs from the recording (strict mode)"
            )
        return ModelResponse(
            content=entry.response.content,
            usage=entry.response.usage,
            model=f"replay/{entry.response.model}",
        )


class CassetteRecorder:
    """Wraps a model and appends every answered call to a cassette file."""

    def __init__(
        self,
        inner: Model,
        path: Path,
        *,
        secrets: list[str] | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.inner = inner
        self.path = path
        # the process's redactor (every known secret), with ``secrets`` besides
        self.redactor = redactor if redactor is not None else Redactor()
        self.redactor.register(*(secrets or []))
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.stat().st_size == 0:
            header = {"vitco_cassette": 1, "recorded_with": inner.id}
            path.write_text(self._scrub(json.dumps(header)) + "\n", encoding="utf-8")

    @property
    def id(self) -> str:
        return self.inner.id

    def _scrub(self, text: str) -> str:
        """``text`` (a JSON line) without any known secret, also where JSON escaped its
        characters (``Redactor.known``)."""
        return self.redactor.known(text)

    def metered(self, meter: Meter) -> CassetteRecorder:
        """This recorder over ``inner`` metered (the router inside meters each of its tries);
        it writes to the same file, under the same lock."""
        twin = copy.copy(self)
        twin.inner = metered(self.inner, meter)
        return twin

    def request(self, request: ModelRequest) -> ModelResponse:
        response = self.inner.request(request)
        entry = CassetteEntry(
            key=request.key,
            fingerprint=request.fingerprint(),
            response=RecordedResponse(
                content=response.content, usage=response.usage, model=response.model
            ),
        )
        line = self._scrub(entry.model_dump_json()) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)
        return response
