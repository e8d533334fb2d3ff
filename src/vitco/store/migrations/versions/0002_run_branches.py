"""runs: the branch a run works on, its base commit, and where a fork came from

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column("branch", sa.String(length=200), nullable=False, server_default="main")
        )
        batch.add_column(sa.Column("base_sha", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("parent_run_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("fork_checkpoint", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("fork_checkpoint")
        batch.drop_column("parent_run_id")
        batch.drop_column("base_sha")
        batch.drop_column("branch")
