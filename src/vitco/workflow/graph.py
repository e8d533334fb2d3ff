"""The graph of a run: its workflow template compiled for its runtime.

``deliver-project`` (``templates/deliver-project.yaml``) is::

    analyze -> plan -> tasks (map: task flow per ready task, in parallel) -> integrate
            -> deploy -> deliver;  tasks blocked -> stuck;  integration failed -> end
    task flow: implement -> review -> write_tests -> test -> commit
               review / test / merge conflict -> implement (max: max_attempts) | give_up
"""

from __future__ import annotations

from typing import Any

from vitco.workflow.compile import compile_workflow
from vitco.workflow.runtime import Runtime

DEFAULT_WORKFLOW = "deliver-project"


def build_graph(rt: Runtime, checkpointer: Any, workflow: str = DEFAULT_WORKFLOW) -> Any:
    """The compiled graph of ``workflow`` for one run's runtime."""
    return compile_workflow(rt, checkpointer, workflow)
