"""Ids people can copy: unique prefixes (like git) for runs, projects and checkpoints.

A run or project id is taken whole (``r-3f9a2c1b7d04``) or as a prefix only one id starts
with (``r-3f9a``, or ``3f9a`` without the kind's letter); an ambiguous prefix is an error that
lists the candidates (``Store.resolve_id``). A checkpoint is named by its step number (as
``vitco history`` lists it) or a prefix of its id; ``history`` prints each id cut to the
shortest length that is still unique among the run's checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vitco.store import Store
    from vitco.store.models import Run

MIN_ABBREV = 8


def find_run(store: Store, ident: str) -> Run:
    """A run by its id or prefix, or the latest run of a project named by its id or prefix."""
    from vitco.store import NotFound

    kinds: tuple[str, ...] = ("project",) if ident.startswith("p-") else ("run",)
    if not ident.startswith(("p-", "r-")):
        kinds = ("run", "project")
    matches: list[tuple[str, str]] = []
    errors: list[NotFound] = []
    for kind in kinds:
        try:
            matches.append((kind, store.resolve_id(kind, ident)))
        except NotFound as exc:
            errors.append(exc)
    if not matches:
        ambiguous = [e for e in errors if e.__class__ is not NotFound]
        if ambiguous or len(errors) == 1:
            raise (ambiguous or errors)[0]
        raise NotFound("run or project", ident)
    if len(matches) > 1:
        from vitco.store import AmbiguousId

        raise AmbiguousId("run or project", ident, [full for _, full in matches])
    kind, full = matches[0]
    if kind == "run":
        return store.get_run(full)
    runs = store.runs(full)
    if not runs:
        raise NotFound("run of project", full)
    return runs[0]


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
