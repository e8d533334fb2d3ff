"""Runs: workflow templates compiled to LangGraph graphs, the steps they name, the runner.

Public names are re-exported lazily (importing the package imports nothing heavy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vitco._lazy import exports

_NAMES = {
    "DEFAULT_WORKFLOW": "vitco.workflow.graph",
    "Outcome": "vitco.workflow.runner",
    "RunState": "vitco.workflow.state",
    "Runtime": "vitco.workflow.runtime",
    "Services": "vitco.workflow.services",
    "Step": "vitco.workflow.steps",
    "TaskState": "vitco.workflow.state",
    "collection": "vitco.workflow.steps",
    "compile_workflow": "vitco.workflow.compile",
    "step": "vitco.workflow.steps",
    "steps": "vitco.workflow.steps",
}
__all__ = sorted(_NAMES)
__getattr__ = exports(__name__, _NAMES)

if TYPE_CHECKING:
    from vitco.workflow.compile import compile_workflow as compile_workflow
    from vitco.workflow.graph import DEFAULT_WORKFLOW as DEFAULT_WORKFLOW
    from vitco.workflow.runner import Outcome as Outcome
    from vitco.workflow.runtime import Runtime as Runtime
    from vitco.workflow.services import Services as Services
    from vitco.workflow.state import RunState as RunState
    from vitco.workflow.state import TaskState as TaskState
    from vitco.workflow.steps import (
        Step as Step,
    )
    from vitco.workflow.steps import (
        collection as collection,
    )
    from vitco.workflow.steps import (
        step as step,
    )
    from vitco.workflow.steps import (
        steps as steps,
    )
