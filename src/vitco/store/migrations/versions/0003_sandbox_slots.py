"""projects: a sandbox slot of their own (the project's uid is the sandbox range's first + slot)

Existing projects get slots 0, 1, 2... in the order they were created (ties broken by id), then
the column becomes non-null and unique.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

projects = sa.table(
    "projects",
    sa.column("id", sa.String()),
    sa.column("created_at", sa.DateTime()),
    sa.column("sandbox_slot", sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("sandbox_slot", sa.Integer(), nullable=True))

    conn = op.get_bind()
    order = sa.select(projects.c.id).order_by(projects.c.created_at, projects.c.id)
    for slot, project_id in enumerate(conn.execute(order).scalars().all()):
        conn.execute(projects.update().where(projects.c.id == project_id).values(sandbox_slot=slot))

    with _rows_set_aside_on_sqlite("projects"), op.batch_alter_table("projects") as batch:
        batch.alter_column("sandbox_slot", existing_type=sa.Integer(), nullable=False)
        batch.create_unique_constraint("uq_projects_sandbox_slot", ["sandbox_slot"])


def downgrade() -> None:
    with _rows_set_aside_on_sqlite("projects"), op.batch_alter_table("projects") as batch:
        batch.drop_constraint("uq_projects_sandbox_slot", type_="unique")
        batch.drop_column("sandbox_slot")


@contextmanager
def _rows_set_aside_on_sqlite(table: str) -> Iterator[None]:
    """Let a batch operation rebuild ``table`` on SQLite although other tables point at it.

    SQLite cannot alter a column in place: the batch copies the table, drops the old one and
    renames the copy. vitco's connections run with ``PRAGMA foreign_keys=ON`` (store/db.py), so
    dropping ``projects`` while briefs, runs or model calls point at it fails; the pragma cannot
    be switched off inside the migration's transaction. Deferring the checks to the commit is
    not enough by itself: SQLite counts the references that the drop breaks, and the rename
    does not count them back. So, with the checks deferred, the rows are moved to a temporary
    table, the (now empty) table is rebuilt, and the rows are inserted again: each insert
    settles the references it restores, and the commit finds none broken. No foreign key here
    cascades, so emptying the table touches no other row.
    """
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        yield
        return
    hold = f"_vitco_hold_{table}"
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{hold}")  # left by a failed attempt
    conn.exec_driver_sql(f"CREATE TEMP TABLE {hold} AS SELECT * FROM {table} WHERE 0")
    # An INSERT: Python's sqlite3 opens its implicit transaction before DML (not before DDL or
    # a pragma), and the pragma below only lasts inside one.
    conn.exec_driver_sql(f"INSERT INTO {hold} SELECT * FROM {table}")
    conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    if not conn.exec_driver_sql("PRAGMA defer_foreign_keys").scalar():
        raise RuntimeError("0003: no open SQLite transaction to defer foreign keys in")
    conn.exec_driver_sql(f"DELETE FROM {table}")
    yield
    columns = ", ".join(c["name"] for c in sa.inspect(conn).get_columns(table))
    conn.exec_driver_sql(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {hold}")
    conn.exec_driver_sql(f"DROP TABLE {hold}")
