"""A workflow of one project-level step, for tests about how a run around a step behaves
(a resume before the first checkpoint, a defect's error event)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from vitco.config import Settings
from vitco.workflow.runtime import Runtime
from vitco.workflow.steps import step, unregister

Body = Callable[[Runtime, dict[str, Any]], dict[str, Any]]


@contextmanager
def one_step_workflow(settings: Settings, workflow: str, name: str, body: Body) -> Iterator[None]:
    """Template ``workflow`` in the data dir: ``start -> name -> end``, ``name`` a step doing
    ``body``, registered until the block ends."""
    step(name, level="project")(body)
    folder = settings.home / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    template = (
        f"name: {workflow}\ndescription: one step, {name}\nstart: only\n"
        f"nodes:\n  only: {{type: tool, step: {name}}}\nedges:\n  - {{from: only, to: end}}\n"
    )
    (folder / f"{workflow}.yaml").write_text(template, encoding="utf-8")
    try:
        yield
    finally:
        unregister(name)
