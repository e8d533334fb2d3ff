"""The cost ledger seen from the model layer, and the journal that makes resumed calls free.

``Ledger`` is where every answered call is written (tokens, cost, latency, tier, cache hit).
``JournaledModel`` asks the ledger first: a call this run already made with the same key and the
same request fingerprint is answered from there, so a step re-executed after a crash never
pays for (or waits on) a model call twice.

The journal is also where an answer's size is checked: what the model sent is recorded, and
handed on to be parsed, only if it is at most ``max_answer_bytes``; a runaway or hostile 200 MB
answer ends the call with ``AnswerTooLarge`` instead of landing in the store.
"""

from __future__ import annotations

from typing import Protocol

from vitco.llm.exceptions import AnswerTooLarge
from vitco.llm.model import MAX_ANSWER_BYTES, Model, ModelRequest, ModelResponse

__all__ = ["MAX_ANSWER_BYTES", "JournaledModel", "Ledger"]


class Ledger(Protocol):
    def lookup(self, request: ModelRequest) -> ModelResponse | None:
        """The answer already recorded for this call in this run, if any."""
        ...

    def record(self, request: ModelRequest, response: ModelResponse) -> None:
        """Write one answered call to the ledger."""
        ...


class JournaledModel:
    """Wraps a model with a ledger: record every call, never repeat a recorded one.

    A fresh answer larger than ``max_answer_bytes`` (UTF-8) raises ``AnswerTooLarge``; the call
    is recorded without its answer (empty content), so what it cost still counts against the
    budget, and a recorded empty answer is never served: the call is made again on resume.
    """

    def __init__(
        self, inner: Model, ledger: Ledger, *, max_answer_bytes: int = MAX_ANSWER_BYTES
    ) -> None:
        self.inner = inner
        self.ledger = ledger
        self.max_answer_bytes = max_answer_bytes

    @property
    def id(self) -> str:
        return self.inner.id

    def request(self, request: ModelRequest) -> ModelResponse:
        done = self.ledger.lookup(request)
        if done is not None and done.content:
            return done
        response = self.inner.request(request)
        # surrogatepass: a lone surrogate is counted, not a UnicodeEncodeError
        size = len(response.content.encode("utf-8", "surrogatepass"))
        if size > self.max_answer_bytes:
            self.ledger.record(request, response.model_copy(update={"content": ""}))
            raise AnswerTooLarge(request.key.label(), size, self.max_answer_bytes)
        self.ledger.record(request, response)
        return response
