"""The cost ledger seen from the model layer, and the journal that makes resumed calls free.

``Ledger`` is where every answered call is written (tokens, cost, latency, tier, cache hit).
``JournaledModel`` asks the ledger first: a call this run already made with the same key and the
same request fingerprint is answered from there, so a step re-executed after a crash never
pays for (or waits on) a model call twice.
"""

from __future__ import annotations

from typing import Protocol

from vitco.llm.model import Model, ModelRequest, ModelResponse


class Ledger(Protocol):
    def lookup(self, request: ModelRequest) -> ModelResponse | None:
        """The answer already recorded for this call in this run, if any."""
        ...

    def record(self, request: ModelRequest, response: ModelResponse) -> None:
        """Write one answered call to the ledger."""
        ...


class JournaledModel:
    """Wraps a model with a ledger: record every call, never repeat a recorded one."""

    def __init__(self, inner: Model, ledger: Ledger) -> None:
        self.inner = inner
        self.ledger = ledger

    @property
    def id(self) -> str:
        return self.inner.id

    def request(self, request: ModelRequest) -> ModelResponse:
        done = self.ledger.lookup(request)
        if done is not None:
            return done
        response = self.inner.request(request)
        self.ledger.record(request, response)
        return response
