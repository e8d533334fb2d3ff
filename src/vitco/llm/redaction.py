"""A model that never sends a known secret: every message of a request passes through the
process's ``Redactor`` (``vitco.observability.redaction``) before the wrapped model sees it.

Only known values are removed (``Redactor.known``), not credential shapes: prompts carry code
and test output, where ``password=`` or ``Bearer ...`` are fixtures, not secrets. A request
with nothing to remove is passed on as it is (the same object: its fingerprint, the key of the
cache and the cassettes, is unchanged).
"""

from __future__ import annotations

import copy

from vitco.llm.meter import Meter, metered
from vitco.llm.model import Model, ModelRequest, ModelResponse
from vitco.observability.redaction import Redactor


class RedactingModel:
    """``inner`` behind the redactor (see the module docstring)."""

    def __init__(self, inner: Model, redactor: Redactor) -> None:
        self.inner = inner
        self.redactor = redactor

    @property
    def id(self) -> str:
        return self.inner.id

    def request(self, request: ModelRequest) -> ModelResponse:
        messages = tuple(
            m.model_copy(update={"content": self.redactor.known(m.content)})
            for m in request.messages
        )
        if any(a.content != b.content for a, b in zip(messages, request.messages, strict=True)):
            request = request.model_copy(update={"messages": messages})
        return self.inner.request(request)

    def metered(self, meter: Meter) -> RedactingModel:
        """This redactor over ``inner`` metered (a router inside meters each of its tries)."""
        twin = copy.copy(self)
        twin.inner = metered(self.inner, meter)
        return twin
