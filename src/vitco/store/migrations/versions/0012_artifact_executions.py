"""artifacts.execution: which execution of a workflow step wrote each artifact, so a step run
again after a crash (its writes committed, its checkpoint not) does not read its own earlier
output (see ``vitco.store.artifacts``)

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("artifacts") as batch_op:
        batch_op.add_column(sa.Column("execution", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("artifacts") as batch_op:
        batch_op.drop_column("execution")
