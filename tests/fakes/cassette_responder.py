"""Fake providers that answer like a recorded run, and fail like real ones.

The vendor fakes (:mod:`tests.fakes.openai_server`, :mod:`tests.fakes.anthropic_server`) see
HTTP requests, not vitco's ``CallKey``; a cassette is indexed by that key. ``CallTagged``
wraps the model a run uses and appends the call's label (``developer/implement/T2#2``) to the
last message of every request, so it travels over the wire; ``CassetteResponder`` reads it
back and answers with the cassette's recorded output for that call. The run then goes through
the real router, real adapters and real HTTP, yet delivers exactly what the cassette says.

``CassetteResponder(fail_rate=0.3, seed=...)`` makes a seeded share of the requests fail with
a mix of real-world faults (429 with ``Retry-After``, 5xx, a hang that the client's timeout
cuts, a malformed body) and counts what it did.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.fakes.llm_server import Fail, Hang, Malformed, RateLimit, Reply
from vitco.llm.cassette import read_cassette
from vitco.llm.model import Message, Model, ModelRequest, ModelResponse

__all__ = ["DEFAULT_FAULTS", "CallTagged", "CassetteResponder"]

_TAG = "vitco-call:"
_TAG_RE = re.compile(r"\[vitco-call:([^\]\\]+)\]")


class CallTagged:
    """Wraps a model; every request carries ``[vitco-call:<label>]`` in its last message."""

    def __init__(self, inner: Model) -> None:
        self.inner = inner

    @property
    def id(self) -> str:
        return self.inner.id

    def request(self, request: ModelRequest) -> ModelResponse:
        *head, last = request.messages
        tagged = Message(role=last.role, content=f"{last.content}\n\n[{_TAG}{request.key.label()}]")
        return self.inner.request(request.model_copy(update={"messages": (*head, tagged)}))


Fault = Callable[[], Any]

DEFAULT_FAULTS: tuple[Fault, ...] = (
    lambda: RateLimit(retry_after="0.05"),
    lambda: Fail(500),
    lambda: Fail(503, "The service is temporarily unavailable."),
    lambda: Hang(seconds=10),
    lambda: Malformed(),
)
"""429 with Retry-After, 500, 503, a hang (the client's timeout fires), a body that is not JSON."""


class CassetteResponder:
    """A fake vendor's ``responder``: the cassette's answer for the tagged call, or a fault."""

    def __init__(
        self,
        cassette: Path,
        *,
        fail_rate: float = 0.0,
        seed: int = 0,
        faults: Sequence[Fault] = DEFAULT_FAULTS,
    ) -> None:
        _header, entries = read_cassette(cassette)
        self.answers: dict[str, Any] = {}
        for entry in entries:
            self.answers.setdefault(entry.key.label(), json.loads(entry.response.content))
        self.fail_rate = fail_rate
        self.faults = list(faults)
        self.rng = random.Random(seed)
        self.served = 0
        self.injected: Counter[str] = Counter()
        self.misses: list[str] = []
        self._lock = threading.Lock()

    @property
    def faults_injected(self) -> int:
        return sum(self.injected.values())

    def __call__(self, payload: dict[str, Any]) -> Any:
        match = _TAG_RE.search(json.dumps(payload, ensure_ascii=False))
        label = match.group(1) if match else None
        with self._lock:
            if label is None or label not in self.answers:
                self.misses.append(label or "(untagged request)")
                return None  # the fake records a problem and answers 500
            if self.rng.random() < self.fail_rate:
                fault = self.rng.choice(self.faults)()
                self.injected[type(fault).__name__] += 1
                return fault
            self.served += 1
        return Reply(self.answers[label])
