"""run leases with fencing tokens: run_leases (the database lease) and run_fences (the newest
token that drove each run, whatever the lease backend)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _epoch(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Float(precision=53), nullable=False)


def upgrade() -> None:
    op.create_table(
        "run_leases",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        _epoch("acquired_at"),
        _epoch("heartbeat_at"),
        _epoch("expires_at"),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_index("ix_run_leases_expires_at", "run_leases", ["expires_at"])
    op.create_table(
        "run_fences",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id"),
    )


def downgrade() -> None:
    op.drop_table("run_fences")
    op.drop_index("ix_run_leases_expires_at", table_name="run_leases")
    op.drop_table("run_leases")
