"""the model layer's state: the response cache and the providers' circuit breakers

Until now both lived in a SQLite file of their own (``llm-state.sqlite`` in the data dir) with an
unversioned schema; an existing file is left alone (its entries are disposable: a cache that
starts empty, breakers that start closed).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "llm_response_cache",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=300), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("llm_response_cache") as batch:
        batch.create_index("ix_llm_response_cache_expires_at", ["expires_at"], unique=False)

    op.create_table(
        "llm_breakers",
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.Float(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("provider"),
    )


def downgrade() -> None:
    op.drop_table("llm_breakers")
    with op.batch_alter_table("llm_response_cache") as batch:
        batch.drop_index("ix_llm_response_cache_expires_at")
    op.drop_table("llm_response_cache")
