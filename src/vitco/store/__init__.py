"""The data layer: SQLAlchemy models, migrations and queries."""

from vitco.store.db import (
    Migration,
    SchemaRevision,
    migrate,
    open_database,
    open_store,
    schema_revision,
)
from vitco.store.exceptions import NotFound, SchemaOutdated, SchemaTooNew, StoreError
from vitco.store.llm_state import LLMBreaker, LLMCachedResponse
from vitco.store.repo import Store

__all__ = [
    "LLMBreaker",
    "LLMCachedResponse",
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
