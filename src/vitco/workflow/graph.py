"""The graph of a run: its workflow template, compiled once per process.

``deliver-project`` (``templates/deliver-project.yaml``) is::

    analyze -> check_spec -> plan -> tasks (map: task flow per ready task, in parallel)
            -> integrate -> deploy -> deliver;  tasks blocked -> stuck;  integration failed -> end
    check_spec: problems -> revise_spec -> check_spec (max: spec_checks) | spent: plan
    task flow (templates/flows/task.yaml): implement -> review -> write_tests -> test -> commit
               implement: disputed -> rule (qa) -> review | amend_spec (analyst) -> review
               review / test / merge conflict -> implement (max: max_attempts) | limit: give up
               (a review on the last attempt: spent -> write_tests, the tests decide)
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
