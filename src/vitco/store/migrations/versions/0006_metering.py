"""every request metered: the ledger's outcome, error and output limit; structured modes

``model_calls`` gets a row per request that reached a provider, answered or not: ``outcome``
(existing rows were all answered: ``ok``), the ``error`` of one that failed and the
``max_tokens`` it was sent with (the router raises it after a truncated answer).
``llm_structured_modes`` remembers the structured-output mode each provider needs.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_calls") as batch:
        batch.add_column(
            sa.Column("outcome", sa.String(length=16), nullable=False, server_default="ok")
        )
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("max_tokens", sa.Integer(), nullable=True))
    op.create_table(
        "llm_structured_modes",
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("provider"),
    )


def downgrade() -> None:
    op.drop_table("llm_structured_modes")
    with op.batch_alter_table("model_calls") as batch:
        batch.drop_column("max_tokens")
        batch.drop_column("error")
        batch.drop_column("outcome")
