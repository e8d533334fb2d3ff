"""Ids people can copy: unique prefixes (like git) for runs, projects and checkpoints.

A run or project id is taken whole (``r-3f9a2c1b7d04``) or as a prefix only one id starts
with (``r-3f9a``, or ``3f9a`` without the kind's letter); an ambiguous prefix is an error that
lists the candidates (``Store.resolve_id``). A checkpoint is named by its step number (as
``vitco history`` lists it) or a prefix of its id; ``history`` prints each id cut to the
shortest length that is still unique among the run's checkpoints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vitco.workflow.checkpoint_ids import MIN_ABBREV, abbreviate, pick_checkpoint

if TYPE_CHECKING:
    from vitco.store import Store
    from vitco.store.models import Run

__all__ = ["MIN_ABBREV", "abbreviate", "find_run", "pick_checkpoint"]


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
