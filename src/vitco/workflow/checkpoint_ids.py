"""Checkpoints named the way people copy them: by step number or a unique prefix of the id.

``vitco history`` prints each checkpoint id cut to the shortest length still unique among the
run's (:func:`abbreviate`); ``vitco fork --at`` and ``POST /v1/runs/{id}/fork`` take either
form (:func:`pick_checkpoint`). Nothing heavy is imported here: the CLI imports it to build its
commands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MIN_ABBREV = 8


def abbreviate(ids: Sequence[str], minimum: int = MIN_ABBREV) -> int:
    """The shortest length (at least ``minimum``) at which ``ids`` are all different."""
    unique = set(ids)
    for length in range(minimum, max((len(i) for i in unique), default=minimum) + 1):
        if len({i[:length] for i in unique}) == len(unique):
            return length
    return max((len(i) for i in unique), default=minimum)


def pick_checkpoint(run_id: str, rows: list[dict[str, Any]], at: str) -> str:
    """The checkpoint id ``at`` names among a run's ``rows`` (``vitco history``): a step number
    or a unique prefix of a checkpoint id. ``BadFork`` says what was wrong."""
    from vitco.workflow.exceptions import BadFork

    where = f"see vitco history {run_id}"
    if at.lstrip("-").isdigit():
        found = [r["checkpoint_id"] for r in rows if r["step"] == int(at)]
        if not found:
            steps = [r["step"] for r in rows if r["step"] is not None]
            span = f"steps {min(steps)}..{max(steps)}" if steps else "no checkpoints"
            raise BadFork(run_id, f"no checkpoint at step {at} ({span}; {where})")
        return str(found[-1])
    found = [r["checkpoint_id"] for r in rows if str(r["checkpoint_id"]).startswith(at)]
    if not found:
        raise BadFork(run_id, f"no checkpoint {at!r} ({where})")
    if len(found) > 1:
        length = abbreviate(found)
        some = ", ".join(f[:length] for f in found[:5])
        raise BadFork(run_id, f"{at!r} starts {len(found)} checkpoints ({some}...); {where}")
    return str(found[0])
