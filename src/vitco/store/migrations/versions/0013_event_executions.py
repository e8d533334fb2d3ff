"""events.execution: which execution of a workflow step wrote each event, so a step run again
after a crash (its writes committed, its checkpoint not) does not report again what its earlier
run reported (see ``vitco.store.repo.Store._write``)

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch_op:
        batch_op.add_column(sa.Column("execution", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_column("execution")
