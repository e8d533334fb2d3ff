"""run_jobs: the queue's tenant, priority, lease (attempt and expiry) and enqueue key

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run_jobs") as batch:
        batch.add_column(
            sa.Column("tenant_id", sa.String(length=64), nullable=False, server_default="default")
        )
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("key", sa.String(length=200), nullable=True))
    op.create_index("ix_run_jobs_key", "run_jobs", ["key"], unique=True)
    op.create_index("ix_run_jobs_tenant_taken", "run_jobs", ["tenant_id", "taken_at"])


def downgrade() -> None:
    op.drop_index("ix_run_jobs_tenant_taken", table_name="run_jobs")
    op.drop_index("ix_run_jobs_key", table_name="run_jobs")
    with op.batch_alter_table("run_jobs") as batch:
        batch.drop_column("key")
        batch.drop_column("lease_until")
        batch.drop_column("attempt")
        batch.drop_column("priority")
        batch.drop_column("tenant_id")
