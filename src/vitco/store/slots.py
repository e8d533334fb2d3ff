"""Sandbox slots: each project holds one (its uid range in the sandbox), the smallest free."""

from __future__ import annotations

from sqlalchemy import func, literal, select, text, union_all
from sqlalchemy.orm import Session

from vitco.store.models import Project

SLOT_LOCK = 0x76_69_74_63_6F_73_6C  # "vitcosl": the advisory lock of the slot pick


def pick_slot(s: Session) -> int:
    """The slot for a project made in transaction ``s``: on PostgreSQL the pick is serialised
    by a transaction-level advisory lock (many hosts make projects at once, and all would pick
    the same smallest slot); elsewhere the unique constraint turns a second pick away."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SLOT_LOCK})
    return smallest_free_slot(s)


def smallest_free_slot(s: Session) -> int:
    """The smallest sandbox slot >= 0 that no project holds: the least of 0 and each held
    slot + 1 that is not itself held (one query over the unique index, however many projects)."""
    candidates = union_all(
        select(literal(0).label("slot")),
        select((Project.sandbox_slot + 1).label("slot")).where(Project.sandbox_slot >= 0),
    ).subquery()
    held = select(Project.id).where(Project.sandbox_slot == candidates.c.slot)
    return int(s.scalar(select(func.min(candidates.c.slot)).where(~held.exists())) or 0)
