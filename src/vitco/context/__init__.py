"""What each role is shown: one function per role (``roles``), the environment contract
(``environment``), repository maps (``repomap``), the developer's bounded tools and turns
(``tools``, ``loop``) and search/replace edits (``edits``).

Public names are re-exported lazily (importing the package imports none of its modules).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vitco._lazy import exports

_ROLES = "vitco.context.roles"
_NAMES = {
    "ContextError": "vitco.context.exceptions",
    "EditsFailed": "vitco.context.exceptions",
    "RunClock": "vitco.context.environment",
    "Snapshot": "vitco.context.snapshot",
    "analyst": _ROLES,
    "developer": _ROLES,
    "dispute_notes": "vitco.context.disputes",
    "develop": "vitco.context.loop",
    "devops": _ROLES,
    "manager": _ROLES,
    "qa": _ROLES,
    "qa_files": "vitco.context.disputes",
    "repository_map": "vitco.context.repomap",
    "resolve_edits": "vitco.context.edits",
    "restored": "vitco.context.disputes",
    "reviewer": _ROLES,
    "run_tool": "vitco.context.tools",
    "task_view": _ROLES,
}
__all__ = sorted(_NAMES)
__getattr__ = exports(__name__, _NAMES)

if TYPE_CHECKING:
    from vitco.context.disputes import dispute_notes as dispute_notes
    from vitco.context.disputes import qa_files as qa_files
    from vitco.context.disputes import restored as restored
    from vitco.context.edits import resolve_edits as resolve_edits
    from vitco.context.environment import RunClock as RunClock
    from vitco.context.exceptions import ContextError as ContextError
    from vitco.context.exceptions import EditsFailed as EditsFailed
    from vitco.context.loop import develop as develop
    from vitco.context.repomap import repository_map as repository_map
    from vitco.context.roles import analyst as analyst
    from vitco.context.roles import developer as developer
    from vitco.context.roles import devops as devops
    from vitco.context.roles import manager as manager
    from vitco.context.roles import qa as qa
    from vitco.context.roles import reviewer as reviewer
    from vitco.context.roles import task_view as task_view
    from vitco.context.snapshot import Snapshot as Snapshot
    from vitco.context.tools import run_tool as run_tool
