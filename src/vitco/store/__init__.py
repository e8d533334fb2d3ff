"""The data layer: SQLAlchemy models, migrations and queries.

The router's tables (``LLMBreaker``, ``LLMCachedResponse``, ``LLMStructuredMode``) are
re-exported lazily: a command that only reads runs (``vitco status``) does not import them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vitco._lazy import exports
from vitco.store.db import (
    Migration,
    SchemaRevision,
    migrate,
    open_database,
    open_store,
    schema_revision,
)
from vitco.store.exceptions import (
    AlreadyExists,
    AmbiguousId,
    FenceRefused,
    NotFound,
    SchemaOutdated,
    SchemaTooNew,
    StoreError,
)
from vitco.store.repo import Store

_LAZY = {
    "AccessStore": "vitco.store.access",
    "LLMBreaker": "vitco.store.llm_state",
    "LLMCachedResponse": "vitco.store.llm_state",
    "LLMStructuredMode": "vitco.store.llm_state",
}
__getattr__ = exports(__name__, _LAZY)

if TYPE_CHECKING:
    from vitco.store.access import AccessStore as AccessStore
    from vitco.store.llm_state import LLMBreaker as LLMBreaker
    from vitco.store.llm_state import LLMCachedResponse as LLMCachedResponse
    from vitco.store.llm_state import LLMStructuredMode as LLMStructuredMode

__all__ = [
    "AccessStore",
    "AlreadyExists",
    "AmbiguousId",
    "FenceRefused",
    "LLMBreaker",
    "LLMCachedResponse",
    "LLMStructuredMode",
    "Migration",
    "NotFound",
    "SchemaOutdated",
    "SchemaRevision",
    "SchemaTooNew",
    "Store",
    "StoreError",
    "migrate",
    "open_database",
    "open_store",
    "schema_revision",
]
