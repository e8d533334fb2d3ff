"""The model protocol: what every model, provider, router and replay speaks.

A call is a ``ModelRequest``: chat messages, the JSON schema of the typed answer we want back,
and a ``CallKey`` that says *what the call is* in the workflow (role, step, task, attempt,
repair). The key is what cassettes are indexed by, so rewording a prompt does not invalidate a
recording; ``ModelRequest.fingerprint`` hashes the full request for strict comparisons and for
the response cache.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePosixPath
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

Tier = Literal["premium", "standard", "efficient"]
TIERS: tuple[Tier, ...] = ("efficient", "standard", "premium")


def tier_for(complexity: int) -> Tier:
    """The seed's rule: complexity >= 8 premium, >= 5 standard, else efficient."""
    if complexity >= 8:
        return "premium"
    if complexity >= 5:
        return "standard"
    return "efficient"


def tier_above(tier: Tier) -> Tier | None:
    """The next stronger tier, or None at the top."""
    index = TIERS.index(tier)
    return TIERS[index + 1] if index + 1 < len(TIERS) else None


MAX_ANSWER_BYTES = 2_000_000
"""UTF-8 bytes of one answer: room for the JSON of a large changeset, and a bound on what one
hostile answer can make vitco parse and store (an answer is at least as long as the file
contents it carries, so this is also the most one answer can write). Larger answers are never
cached (router) nor stored (journal)."""


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class CallKey(BaseModel):
    """What a call is within a run: stable across prompt rewording."""

    model_config = ConfigDict(frozen=True)

    role: str
    step: str
    task: str | None = None
    attempt: int = 1
    repair: int = 0

    def label(self) -> str:
        """A short human-readable form, e.g. ``developer/implement/T2#2``."""
        text = f"{self.role}/{self.step}"
        if self.task:
            text += f"/{self.task}"
        text += f"#{self.attempt}"
        if self.repair:
            text += f"+repair{self.repair}"
        return text


class ModelRequest(BaseModel):
    """A request for one typed answer."""

    model_config = ConfigDict(frozen=True)

    key: CallKey
    messages: tuple[Message, ...]
    output_name: str
    output_schema: dict[str, Any]
    temperature: float = 0.0
    max_tokens: int | None = None
    complexity: int = Field(default=5, ge=1, le=10)
    tier: Tier | None = None

    def fingerprint(self) -> str:
        """SHA-256 over everything that determines the answer (not the key, not the tier)."""
        payload = {
            "messages": [m.model_dump() for m in self.messages],
            "output_name": self.output_name,
            "output_schema": self.output_schema,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()


class Usage(BaseModel):
    """Token counts reported by the provider."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


class ModelResponse(BaseModel):
    """A model's answer: the JSON text of the typed output, and what it cost to get."""

    content: str
    usage: Usage = Field(default_factory=Usage)
    model: str
    latency_s: float = 0.0
    cost_usd: float = 0.0
    cached: bool = False
    retries: int = 0
    tier: Tier | None = None


def public_id(model_id: str) -> str:
    """``model_id`` as clients may see it: a replayed model's id names a file of the host
    (``replay:/srv/vitco/cassettes/todo-api.jsonl``), so only the file's name is shown
    (``replay:todo-api.jsonl``); other ids name no file and are kept."""
    provider, sep, path = model_id.partition(":")
    if sep and provider.startswith("replay"):
        return f"{provider}:{PurePosixPath(path).name}"
    return model_id


@runtime_checkable
class Model(Protocol):
    """Anything that answers a ``ModelRequest``: a provider, a router, a replay, a test model."""

    @property
    def id(self) -> str:
        """The ``provider:model`` id."""
        ...

    def request(self, request: ModelRequest) -> ModelResponse:
        """Answer one request; raise an ``LLMError`` subclass on failure."""
        ...
