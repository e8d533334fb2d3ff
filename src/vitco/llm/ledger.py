"""The cost ledger seen from the model layer, and the journal that makes resumed calls free.

Every request that reaches a provider is written to the ledger by the meter
(:mod:`vitco.llm.meter`) as it ends, answered or not. ``JournaledModel`` asks the ledger first:
a call this run already had answered with the same key and the same request fingerprint is
answered from there, so a step re-executed after a crash or an interrupt never pays for (or
waits on) a model call twice, and its requests are not counted twice.

The journal is also where an answer's size is checked: an answer is handed on to be parsed only
if it is at most ``max_answer_bytes``; a runaway or hostile 200 MB answer ends the call with
``AnswerTooLarge`` (the ledger keeps what it cost, without its content).

An answer the caller then rejects (it failed validation; the agent asks for a repair) is marked
``invalid`` in the ledger through :meth:`JournaledModel.reject`.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from vitco.llm.budget import Budget
from vitco.llm.exceptions import AnswerTooLarge
from vitco.llm.meter import Attempt, Meter, metered
from vitco.llm.model import MAX_ANSWER_BYTES, Model, ModelRequest, ModelResponse

__all__ = ["MAX_ANSWER_BYTES", "JournaledModel", "Ledger", "journaled"]


class Ledger(Protocol):
    def lookup(self, request: ModelRequest) -> ModelResponse | None:
        """The answer already recorded for this call in this run, if any."""
        ...

    def record(self, attempt: Attempt) -> None:
        """Write one request that reached a provider (or the cache)."""
        ...

    def reject(self, request: ModelRequest, reason: str) -> None:
        """The recorded answer to this call failed validation: mark it ``invalid``."""
        ...


class JournaledModel:
    """Wraps a (metered) model with a ledger: never repeat a call the ledger has answered.

    A fresh answer larger than ``max_answer_bytes`` (UTF-8) raises ``AnswerTooLarge``; the
    ledger holds such an answer without its content, and a recorded empty answer is never
    served: the call is made again on resume.
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
            raise AnswerTooLarge(request.key.label(), size, self.max_answer_bytes)
        return response

    def reject(self, request: ModelRequest, reason: str) -> None:
        """The answer to ``request`` failed validation (see :class:`Ledger`)."""
        self.ledger.reject(request, reason)


def journaled(
    model: Model,
    ledger: Ledger,
    *,
    budget: Budget | None = None,
    max_answer_bytes: int = MAX_ANSWER_BYTES,
) -> JournaledModel:
    """``model`` for one run: every request it sends admitted by ``budget`` (if any) and
    recorded in ``ledger`` (an answer over ``max_answer_bytes`` without its content), inside
    the journal, so that a resumed run's answered calls are free and never refused."""

    def record(attempt: Attempt) -> None:
        if len(attempt.content.encode("utf-8", "surrogatepass")) > max_answer_bytes:
            attempt = dataclasses.replace(attempt, content="")
        ledger.record(attempt)

    inner = metered(model, Meter(record, budget=budget))
    return JournaledModel(inner, ledger, max_answer_bytes=max_answer_bytes)
