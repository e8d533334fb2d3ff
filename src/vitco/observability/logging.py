"""Structured logs: one JSON object a line, with the ids of what it is about, secrets removed.

vitco's modules log with the standard library (``logging.getLogger("vitco....")``, fields as
``extra={...}``); structlog is the formatter at the end (``configure``), so every record, ours
and the libraries' (uvicorn, httpx, SQLAlchemy), comes out the same way:

    {"event": "request", "level": "info", "logger": "vitco.api.access", "timestamp": "...",
     "request_id": "...", "tenant_id": "acme", "run_id": "...", "status": 200, ...}

The ids come from context variables (``structlog.contextvars``): the API binds
``request_id`` (and the access line adds ``tenant_id`` and the path's ``project_id`` /
``run_id``), the worker binds ``run_id``, ``project_id`` and ``tenant_id`` while it executes a
run, so a step's log lines carry them too (LangGraph copies the context into its threads).

Secrets are removed by one processor, ``Redactor`` (``vitco.observability.redaction``: the
same one that cleans events, error bodies, cassettes and prompts), the last before rendering,
applied to every record whatever its origin, message, fields and traceback alike:

- the value of a field whose name says it is a secret (``authorization``, ``api_key``,
  ``password``, ``token``, ``secret``, ``cookie``...);
- every known secret value (the provider keys of the model configuration and the
  environment, the master key, mail and storage credentials, every tenant secret the process
  has read or stored), wherever it appears;
- anything shaped like a credential: a vitco API key (``vk_<prefix>_<secret>``: the prefix is
  kept, it identifies the key without granting anything), a ``Bearer`` token, an ``sk-...``
  provider key, a ``whsec_`` webhook signing secret, the password of a URL
  (``scheme://user:password@host``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from vitco.observability.redaction import REDACTED, Redactor

__all__ = ["REDACTED", "Redactor", "bound", "configure"]

_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def _extra(logger: WrappedLogger, name: str, event: EventDict) -> EventDict:
    """The fields a standard-library record was given with ``extra={...}``."""
    record = event.get("_record")
    if isinstance(record, logging.LogRecord):
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_") and key not in event:
                event[key] = value
    return event


def configure(
    *,
    level: str = "INFO",
    json: bool = True,
    secrets: Iterable[str | None] = (),
    stream: TextIO | None = None,
    redactor: Redactor | None = None,
) -> Callable[[], None]:
    """Send every log record to ``stream`` (stderr) as JSON (or, ``json=False``, as aligned
    text for a terminal), ``vitco``'s from ``level`` up and the libraries' from WARNING up,
    with ``secrets`` and every credential shape redacted. Returns the function that undoes it
    (tests, and a command that ends)."""
    if redactor is None:
        redactor = Redactor(secrets)
    else:
        redactor.register(*secrets)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer(default=str)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, _extra, structlog.stdlib.PositionalArgumentsFormatter()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.StackInfoRenderer(),
            redactor,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter)
    root, ours = logging.getLogger(), logging.getLogger("vitco")
    saved = root.level, ours.level, structlog.get_config()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    ours.setLevel(level.upper())
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )

    def undo() -> None:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        ours.setLevel(saved[1])
        structlog.configure(**saved[2])

    return undo


def bound(**ids: str | None) -> Any:
    """A context in which every log line carries ``ids`` (those not None)."""
    return structlog.contextvars.bound_contextvars(
        **{key: value for key, value in ids.items() if value is not None}
    )
