"""Sandbox slots: each project holds one (its uid range in the sandbox), the smallest free."""

from __future__ import annotations

from sqlalchemy import Connection, func, literal, select, text, union_all

from vitco.store.models import Project

SLOT_LOCK = 0x76_69_74_63_6F_73_6C  # "vitcosl": the advisory lock of the slot pick

_DENSE = select(func.count(Project.sandbox_slot), func.max(Project.sandbox_slot)).where(
    Project.sandbox_slot >= 0
)


_HELD = select(Project.sandbox_slot).where(Project.sandbox_slot >= 0).order_by(Project.sandbox_slot)


def pick_slot(conn: Connection) -> int:
    """The slot for a project made in ``conn``'s transaction: on PostgreSQL the pick is
    serialised by a transaction-level advisory lock (many hosts make projects at once, and all
    would pick the same smallest slot); elsewhere the unique constraint turns a second pick
    away."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SLOT_LOCK})
    return smallest_free_slot(conn)


def pick_slots(conn: Connection, n: int) -> list[int]:
    """``n`` slots for projects made together in ``conn``'s transaction (``pick_slot``'s
    lock on PostgreSQL, the unique constraint elsewhere): the smallest ``n`` no project
    holds. When the held ones are 0..m-1, the next ``n`` (one count, as ``pick_slot``);
    otherwise the held ones are read, in order, and the gaps taken first."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SLOT_LOCK})
    held, largest = conn.execute(_DENSE).one()
    if largest is None:
        return list(range(n))
    if held == largest + 1:
        return list(range(largest + 1, largest + 1 + n))
    taken = conn.scalars(_HELD)
    free: list[int] = []
    slot = 0
    for holder in taken:
        while slot < holder and len(free) < n:
            free.append(slot)
            slot += 1
        if len(free) == n:
            break
        slot = holder + 1
    return free + list(range(slot, slot + n - len(free)))


def smallest_free_slot(conn: Connection) -> int:
    """The smallest sandbox slot >= 0 that no project holds.

    Slots are seldom given back, so the held ones are nearly always 0..n-1: when as many are
    held as the largest plus one, the answer is the next (a count over the unique index:
    0.07 ms against the gap search's 0.6 ms at 1,000 projects, 2.4 against 14 ms at
    50,000). Otherwise the least of 0 and each held slot + 1 that is not itself held (one
    query over the unique index)."""
    held, largest = conn.execute(_DENSE).one()
    if largest is None:
        return 0
    if held == largest + 1:
        return int(largest) + 1
    candidates = union_all(
        select(literal(0).label("slot")),
        select((Project.sandbox_slot + 1).label("slot")).where(Project.sandbox_slot >= 0),
    ).subquery()
    taken = select(Project.id).where(Project.sandbox_slot == candidates.c.slot)
    return int(conn.scalar(select(func.min(candidates.c.slot)).where(~taken.exists())) or 0)
