"""webhooks in and out: per-tenant source secrets, inbound deliveries (replays are found by
their delivery id), subscriptions, outbound deliveries and their attempts

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("webhook_attempts", "webhook_deliveries", "webhooks", "hook_deliveries", "hook_secrets")


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.String(length=64), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "hook_secrets",
        _id("tenant_id"),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        _when("created_at", nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "source"),
    )
    op.create_table(
        "hook_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _id("tenant_id"),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("delivery_id", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=100), nullable=False),
        sa.Column("ref", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        _id("project_id", nullable=True),
        _id("run_id", nullable=True),
        _when("received_at", nullable=False),
        _when("claimed_at", nullable=False),
        _when("done_at"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "source", "delivery_id", name="uq_hook_deliveries_id"),
    )
    op.create_index("ix_hook_deliveries_ref", "hook_deliveries", ["tenant_id", "source", "ref"])
    op.create_table(
        "webhooks",
        _id("id"),
        _id("tenant_id"),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("after_event", sa.Integer(), nullable=False),
        _when("created_at", nullable=False),
        _when("deleted_at"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhooks_tenant_id", "webhooks", ["tenant_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _id("webhook_id"),
        _id("tenant_id"),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_at", nullable=False),
        _when("claimed_at"),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _when("created_at", nullable=False),
        _when("finished_at"),
        sa.ForeignKeyConstraint(["webhook_id"], ["webhooks.id"]),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("webhook_id", "event_seq", name="uq_webhook_deliveries_event"),
    )
    op.create_index("ix_webhook_deliveries_webhook_id", "webhook_deliveries", ["webhook_id"])
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_at"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        _when("at", nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["delivery_id"], ["webhook_deliveries.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
