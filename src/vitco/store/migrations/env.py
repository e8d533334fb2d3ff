"""Alembic environment: runs migrations on the connection vitco hands over."""

from __future__ import annotations

from alembic import context

import vitco.store.llm_state
import vitco.store.secret_models
import vitco.store.webhook_models  # noqa: F401  (their tables are part of the metadata)
from vitco.store.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only for the alembic CLI
    raise RuntimeError("vitco migrations run through vitco.store.db.migrate(), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
