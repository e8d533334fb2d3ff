"""Structured-output modes: how a typed answer is asked of an OpenAI-compatible server, the
order they are tried in, and the memory of which one each provider accepts.

"Compatible" servers differ exactly here. OpenAI takes ``response_format`` with a JSON schema;
llama.cpp's server refuses it (HTTP 500 "response_format.type: Input should be 'text' or
'json_object'") but takes a forced tool call or JSON mode; some take neither. The modes, from
most to least constrained:

- ``json_schema``: ``response_format={"type": "json_schema", ...}``;
- ``tool``: a forced function call whose parameters are the schema;
- ``json_object``: JSON mode, the schema in the system prompt;
- ``prompt``: no constraint at all, the schema in the system prompt (the agent's validation
  and repair turn do the rest).

When a server refuses a mode the adapter moves to the next one (``StructuredModeRefused``) and
the router remembers it for the provider in a :class:`ModeMemory`, kept in the store's
``llm_structured_modes`` table (in Redis when the installation has one), so the next run (and
``vitco models check``) starts with the mode that works instead of paying for the refusal
again. A memory only ever moves a provider
*down* the list: a mode configured further down is kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Literal, Protocol, cast

from sqlalchemy import Engine, select

from vitco.store.llm_state import modes_table, upsert

__all__ = [
    "STRUCTURED_MODES",
    "MemoryModes",
    "ModeMemory",
    "RedisModes",
    "StoreModes",
    "StructuredMode",
    "lower_mode",
    "next_mode",
]

StructuredMode = Literal["json_schema", "tool", "json_object", "prompt"]
STRUCTURED_MODES: tuple[StructuredMode, ...] = ("json_schema", "tool", "json_object", "prompt")


def next_mode(mode: str) -> StructuredMode | None:
    """The mode to try after ``mode`` was refused, or None after the last."""
    if mode not in STRUCTURED_MODES:
        return None
    index = STRUCTURED_MODES.index(mode)
    return STRUCTURED_MODES[index + 1] if index + 1 < len(STRUCTURED_MODES) else None


def lower_mode(configured: StructuredMode, remembered: str | None) -> StructuredMode:
    """The mode to start with: the remembered one if it is further down the list."""
    if remembered not in STRUCTURED_MODES:
        return configured
    if STRUCTURED_MODES.index(remembered) > STRUCTURED_MODES.index(configured):
        return remembered
    return configured


class ModeMemory(Protocol):
    """Which structured-output mode each provider was last found to need."""

    def get(self, provider: str) -> StructuredMode | None:
        """The remembered mode of ``provider``, if any."""
        ...

    def remember(self, provider: str, mode: StructuredMode, why: str) -> None:
        """``provider`` needs ``mode`` (``why``: the refusal that showed it)."""
        ...


class MemoryModes:
    """A process-local memory (tests, and routers without a store)."""

    def __init__(self) -> None:
        self._modes: dict[str, StructuredMode] = {}
        self._lock = threading.Lock()

    def get(self, provider: str) -> StructuredMode | None:
        with self._lock:
            return self._modes.get(provider)

    def remember(self, provider: str, mode: StructuredMode, why: str) -> None:
        with self._lock:
            self._modes[provider] = lower_mode(self._modes.get(provider) or mode, mode)


class StoreModes:
    """The memory in the store's database (``llm_structured_modes``), shared by every process
    on the database; the ``engine`` is passed in (the store's)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    def get(self, provider: str) -> StructuredMode | None:
        query = select(modes_table.c.mode).where(modes_table.c.provider == provider)
        with self.engine.connect() as conn:
            mode = conn.execute(query).scalar_one_or_none()
        return cast(StructuredMode, mode) if mode in STRUCTURED_MODES else None

    def remember(self, provider: str, mode: StructuredMode, why: str) -> None:
        row = {"provider": provider, "mode": mode, "reason": why[:2000], "updated_at": self.clock()}
        with self.engine.begin() as conn:
            upsert(conn, modes_table, row)


class RedisModes:
    """The memory in Redis (when the installation keeps the router's state there): one hash,
    ``<prefix>structured_modes``, provider -> mode. The ``redis.Redis`` client is passed in."""

    def __init__(self, client: Any, *, prefix: str = "vitco:") -> None:
        self.client = client
        self.key = prefix + "structured_modes"

    def get(self, provider: str) -> StructuredMode | None:
        raw = self.client.hget(self.key, provider)
        mode = raw.decode() if isinstance(raw, bytes) else raw
        return mode if mode in STRUCTURED_MODES else None

    def remember(self, provider: str, mode: StructuredMode, why: str) -> None:
        self.client.hset(self.key, provider, mode)
