"""The graph of a run: its workflow template, compiled once per process.

``deliver-project`` (``templates/deliver-project.yaml``) is::

    analyze -> plan -> tasks (map: task flow per ready task, in parallel) -> integrate
            -> deploy -> deliver;  tasks blocked -> stuck;  integration failed -> end
    task flow (templates/flows/task.yaml): implement -> review -> write_tests -> test -> commit
               review / test / merge conflict -> implement (max: max_attempts) | limit: give up
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vitco.workflow.compile import compile_workflow

DEFAULT_WORKFLOW = "deliver-project"


def build_graph(workflow: str, home: Path | None, checkpointer: Any) -> Any:
    """The compiled graph of ``workflow`` with ``checkpointer``; invoke it with
    ``context=<the run's Runtime>``."""
    return compile_workflow(workflow, home, checkpointer)
