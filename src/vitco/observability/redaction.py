"""One redaction layer: the ``Redactor`` every output of vitco passes through.

Secrets never enter prompts, events, logs, cassettes, error bodies or delivered repositories.
One ``Redactor`` per process (built by ``vitco.bootstrap.build_redactor``) knows the secret
*values* — registered at load (provider keys, the master key, mail and storage credentials,
every stored tenant secret) and whenever the vault seals or opens another — and is handed to
each of those outputs:

- log lines (``observability.logging``: this is its structlog processor),
- events and artifacts written by the store (``store.Store``; artifacts hold model outputs,
  from which a run's repository is built, so a delivered tree never carries a known value),
- API error bodies (``api.errors``),
- recorded cassettes (``llm.cassette.CassetteRecorder``),
- the prompts sent to a model (``llm.redaction.RedactingModel``).

Two strengths: :meth:`known` removes the known values only (used where text is code or a
prompt: a shape rule would rewrite ``password=`` in a test fixture); :meth:`text` also removes
anything shaped like a credential (a vitco API key ``vk_<prefix>_<secret>``, keeping the
prefix; a ``Bearer`` token; an ``sk-...`` key; a ``whsec_`` secret; ``password=...``; the
password of a URL), and :meth:`value` walks JSON-like data, blanking fields whose name says
they hold a secret (``api_key``, ``password``, ``access_token``; not ``input_tokens``).
A known value is also removed in its JSON-escaped forms (a cassette is JSON lines).
Hand-written: structlog's and logging's filters redact by field name only, and no maintained
library scrubs known values across these formats.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from structlog.typing import EventDict, WrappedLogger

__all__ = ["REDACTED", "SECRET_FIELD", "Redactor"]

REDACTED = "[redacted]"
MIN_SECRET = 6  # shorter values would blank ordinary words

SECRET_FIELD = re.compile(
    r"^(.*[_-])?(authorization|api[_-]?key|password|passwd|secret|token|cookie|credentials?"
    r"|private[_-]?key)$",
    re.IGNORECASE,
)
"""A field named like this (``api_key``, ``access_token``, ``db_password``; not
``input_tokens``) holds a secret, whatever its value looks like."""

_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(vk_[0-9a-fA-F]{4,32})_[A-Za-z0-9_\-]+"), r"\1_" + REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}"), r"\1 " + REDACTED),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"), REDACTED),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]{8,}"), "whsec_" + REDACTED),
    (re.compile(r"(?i)\b((?:api[_-]?key|token|secret|password)=)[^&\s\"']+"), r"\1" + REDACTED),
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/\s@]*:)[^@/\s]+@"), r"\1" + REDACTED + "@"),
)
"""Credential shapes and what replaces them."""


def _forms(secret: str) -> set[str]:
    return {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}


class Redactor:
    """Removes known secret values and credential shapes (see the module docstring).

    Thread-safe: values registered by one thread are removed by every other from then on.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self._forms: tuple[str, ...] = ()
        self.register(*secrets)

    def register(self, *secrets: str | None) -> None:
        """Know these values from now on (``None``, empty and short ones are ignored)."""
        fresh = {s for s in secrets if s and len(s) >= MIN_SECRET} - self._known
        if not fresh:
            return
        with self._lock:
            self._known |= fresh
            forms = {form for s in self._known for form in _forms(s)}
            # longest first: a value that contains another is removed whole
            self._forms = tuple(sorted(forms, key=len, reverse=True))

    @property
    def secrets(self) -> list[str]:
        """The known values (for a test's grep, never for output)."""
        return sorted(self._known, key=len, reverse=True)

    def known(self, text: str) -> str:
        """``text`` without any known value."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def text(self, text: str) -> str:
        """``text`` without any known value or credential shape."""
        text = self.known(text)
        for shape, replacement in _SHAPES:
            text = shape.sub(replacement, text)
        return text

    def value(self, value: Any, *, shapes: bool = True) -> Any:
        """JSON-like ``value`` cleaned; with ``shapes`` (default) also credential shapes and
        fields named as secrets, without only the known values (code, model outputs)."""
        if isinstance(value, str):
            return self.text(value) if shapes else self.known(value)
        if isinstance(value, Mapping):
            return {
                k: REDACTED if shapes and _secret_name(k) and v else self.value(v, shapes=shapes)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(v, shapes=shapes) for v in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        text = str(value)  # another type (a datetime...) is kept unless it shows a secret
        clean = self.text(text) if shapes else self.known(text)
        return value if clean == text else clean

    def __call__(self, logger: WrappedLogger, name: str, event: EventDict) -> EventDict:
        """The structlog processor: every field of a log record, cleaned."""
        return {
            key: REDACTED if _secret_name(key) and value else self.value(value)
            for key, value in event.items()
        }


def _secret_name(key: object) -> bool:
    return isinstance(key, str) and SECRET_FIELD.search(key) is not None
