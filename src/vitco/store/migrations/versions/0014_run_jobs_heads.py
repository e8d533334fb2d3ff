"""run_jobs (status, priority, tenant_id, id): a take finds the first queued job of each
priority and tenant by walking this index from head to head (``vitco.jobs.queue._FIRST``)
instead of grouping every queued job; a take cost 0.3 ms with 10 jobs queued and 1.5 ms with
1,600, under the write lock

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_run_jobs_status_priority_tenant",
        "run_jobs",
        ["status", "priority", "tenant_id", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_run_jobs_status_priority_tenant", table_name="run_jobs")
