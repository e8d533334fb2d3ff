"""The team: roles as data, their typed outputs, and asking a role for an answer.

Public names are re-exported lazily (importing the package imports nothing heavy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vitco._lazy import exports

_NAMES = {
    "Answer": "vitco.agents.agent",
    "Changeset": "vitco.agents.outputs",
    "OUTPUT_TYPES": "vitco.agents.outputs",
    "Plan": "vitco.agents.outputs",
    "QaTests": "vitco.agents.outputs",
    "Review": "vitco.agents.outputs",
    "Role": "vitco.agents.role",
    "Ruling": "vitco.agents.outputs",
    "Spec": "vitco.agents.outputs",
    "SpecCritique": "vitco.agents.outputs",
    "TestDispute": "vitco.agents.outputs",
    "ask": "vitco.agents.agent",
    "load_role": "vitco.agents.role",
    "role_names": "vitco.agents.role",
}
__all__ = sorted(_NAMES)
__getattr__ = exports(__name__, _NAMES)

if TYPE_CHECKING:
    from vitco.agents.agent import Answer as Answer
    from vitco.agents.agent import ask as ask
    from vitco.agents.outputs import (
        OUTPUT_TYPES as OUTPUT_TYPES,
    )
    from vitco.agents.outputs import (
        Changeset as Changeset,
    )
    from vitco.agents.outputs import (
        Plan as Plan,
    )
    from vitco.agents.outputs import (
        QaTests as QaTests,
    )
    from vitco.agents.outputs import (
        Review as Review,
    )
    from vitco.agents.outputs import (
        Ruling as Ruling,
    )
    from vitco.agents.outputs import (
        Spec as Spec,
    )
    from vitco.agents.outputs import (
        SpecCritique as SpecCritique,
    )
    from vitco.agents.outputs import (
        TestDispute as TestDispute,
    )
    from vitco.agents.role import Role as Role
    from vitco.agents.role import load_role as load_role
    from vitco.agents.role import role_names as role_names
