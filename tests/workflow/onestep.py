"""A workflow of one project-level step, for tests about how a run around a step behaves
(a resume before the first checkpoint, a defect's error event)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vitco.bootstrap import build
from vitco.config import Settings
from vitco.llm.testing import TestModel
from vitco.sandbox import Sandbox
from vitco.workflow.runtime import Runtime
from vitco.workflow.services import Services
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


@contextmanager
def trivial_services(
    home: Path, database_url: str, sandbox: Sandbox, step_name: str
) -> Iterator[Services]:
    """Services on data dir ``home`` and ``database_url`` with template ``trivial``: one step,
    ``step_name``, that only ends the run delivered (a test model, no model call)."""
    settings = Settings(home=home, database_url=database_url)
    with one_step_workflow(
        settings, "trivial", step_name, lambda rt, state: {"status": "delivered"}
    ):
        yield build(settings, model=TestModel(), sandbox=sandbox)
