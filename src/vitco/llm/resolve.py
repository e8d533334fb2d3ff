"""Turn a model id into a ``Model``.

``replay:FILE`` (optionally ``replay+strict:FILE``) replays a cassette; ``test`` is the schema
filling ``TestModel``; other ``provider:model`` ids go to the provider registry.
"""

from __future__ import annotations

from pathlib import Path

from vitco.llm.cassette import ReplayModel
from vitco.llm.exceptions import NoModelConfigured, UnknownModel
from vitco.llm.model import Model
from vitco.llm.testing import TestModel


def resolve_model(model_id: str | None) -> Model:
    """The model for ``model_id``; raises ``NoModelConfigured`` or ``UnknownModel``."""
    if not model_id:
        raise NoModelConfigured()
    provider, _, name = model_id.partition(":")
    if provider in ("replay", "replay+strict"):
        if not name:
            raise UnknownModel(model_id, "replay needs a cassette file: replay:PATH.jsonl")
        return ReplayModel(Path(name).expanduser(), strict=provider == "replay+strict")
    if model_id == "test":
        return TestModel()
    raise UnknownModel(model_id, f"no provider {provider!r} is available yet")
