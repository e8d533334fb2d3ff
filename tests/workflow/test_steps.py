"""Steps are declared once, in a registry: a step from outside the package runs in a user's
template; an undeclared outcome is a defect; a template compiles once per process; attempts
are bounded by the template alone; escalation starts from the tier that really answered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.workflow.scripted import (
    APPROVE,
    calc,
    happy_path,
    script,
    write_brief,
)
from vitco.bootstrap import start_run
from vitco.config import Settings
from vitco.llm.model import ModelRequest, ModelResponse
from vitco.llm.testing import FunctionModel
from vitco.sandbox import Sandbox
from vitco.store import open_store
from vitco.workflow.compile import compile_workflow
from vitco.workflow.runtime import Runtime
from vitco.workflow.steps import step, steps, unregister
from vitco.workflow.template import load
from vitco.workflow.validate import validate

pytestmark = pytest.mark.slow

WITH_AUDIT = """\
name: audited
start: analyze
nodes:
  analyze: {type: agent, role: analyst}
  plan: {type: agent, role: manager}
  tasks: {type: map, over: ready_tasks, flow: task}
  stuck: {type: tool, step: stuck}
  integrate: {type: tool, step: integrate}
  audit: {type: tool, step: licence_audit}
  deploy: {type: agent, role: devops}
  deliver: {type: tool, step: deliver}
edges:
  - {from: analyze, to: plan}
  - {from: plan, to: tasks}
  - {from: tasks, to: integrate, when: all_done}
  - {from: tasks, to: stuck, when: blocked}
  - {from: stuck, to: end}
  - {from: integrate, to: audit, when: passed}
  - {from: integrate, to: end, when: failed}
  - {from: audit, to: deploy, when: clean}
  - {from: audit, to: end, when: tainted}
  - {from: deploy, to: deliver}
  - {from: deliver, to: end}
flows:
  task: task
"""


@pytest.fixture
def audit_step(settings: Settings) -> Iterator[list[str]]:
    """A step registered from outside the package, and a user template that runs it."""
    seen: list[str] = []

    @step("licence_audit", level="project", outcomes=("clean", "tainted"))
    def licence_audit(rt: Runtime, state: dict[str, Any]) -> dict[str, Any]:
        files = rt.base.files()
        seen.extend(files)
        rt.emit("audit", f"audited {len(files)} files", step="licence_audit")
        tainted = any("GPL" in (rt.base.path / f).read_text() for f in files)
        return {"outcome": "tainted" if tainted else "clean"}

    folder = settings.home / "workflows"
    folder.mkdir(parents=True)
    (folder / "audited.yaml").write_text(WITH_AUDIT)
    yield seen
    unregister("licence_audit")


def test_a_step_registered_from_outside_runs_in_a_users_template(
    settings: Settings, sandbox: Sandbox, tmp_path: Path, audit_step: list[str]
) -> None:
    report = start_run(
        settings,
        write_brief(tmp_path),
        model=script(happy_path()),
        sandbox=sandbox,
        workflow="audited",
    ).report
    assert report["status"] == "delivered", report["reason"]
    assert "calc.py" in audit_step
    events = [e.message for e in open_store(settings).events(report["run_id"]) if e.kind == "audit"]
    assert events == [f"audited {len(audit_step)} files"]


def test_a_template_naming_an_outcome_a_step_lacks_is_refused_with_its_line(
    settings: Settings, audit_step: list[str]
) -> None:
    path = settings.home / "workflows" / "audited.yaml"
    path.write_text(WITH_AUDIT.replace("when: tainted", "when: dirty"))
    template, lines, file = load("audited", settings.home)
    found = [(p.line, p.message) for p in validate(template, lines, file)]
    assert found == [
        (21, "'audit' has no outcome 'dirty' (outcomes: clean, tainted)"),
        (9, "outcome 'tainted' of node 'audit' has no edge"),
    ]


def test_an_outcome_a_step_does_not_declare_is_a_defect_not_a_route(
    settings: Settings, sandbox: Sandbox, tmp_path: Path, audit_step: list[str]
) -> None:
    @step("licence_audit", level="project", outcomes=("clean", "tainted"))
    def sloppy(rt: Runtime, state: dict[str, Any]) -> dict[str, Any]:
        return {"outcome": "probably fine"}

    report = start_run(
        settings,
        write_brief(tmp_path),
        model=script(happy_path()),
        sandbox=sandbox,
        workflow="audited",
    ).report
    assert report["status"] == "failed"
    assert "step 'licence_audit' ended with outcome 'probably fine'" in report["reason"]


def test_each_template_compiles_once_per_process(settings: Settings) -> None:
    first = compile_workflow("deliver-project", settings.home)
    assert compile_workflow("deliver-project", settings.home) is first
    assert compile_workflow("fix-bug", settings.home) is not first
    assert {"analyze", "implement", "test", "deliver"} <= set(steps())


def test_a_template_gets_its_checkpointer_attached_once_per_saver(settings: Settings) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    saver, other = InMemorySaver(), InMemorySaver()
    bound = compile_workflow("deliver-project", settings.home, saver)
    assert bound.checkpointer is saver
    assert compile_workflow("deliver-project", settings.home, saver) is bound
    elsewhere = compile_workflow("deliver-project", settings.home, other)
    assert elsewhere is not bound and elsewhere.checkpointer is other
    assert compile_workflow("fix-bug", settings.home, saver).checkpointer is saver
    assert compile_workflow("deliver-project", settings.home).checkpointer is None


def test_attempts_are_bounded_by_the_template_alone(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    folder = settings.home / "workflows"
    folder.mkdir(parents=True)
    base = Path(__file__).parents[2] / "src/vitco/workflow/templates/deliver-project.yaml"
    flow = (base.parent / "flows" / "task.yaml").read_text().replace("max_attempts", "2")
    text = base.read_text().replace("name: deliver-project", "name: two-tries")
    indented = "\n".join("    " + line for line in flow.splitlines() if not line.startswith("#"))
    text = text.replace("  task: task", "  task:\n" + indented)
    (folder / "two-tries.yaml").write_text(text)
    answers = happy_path() | {
        "developer/implement/T1#1": calc(correct=False),
        "developer/implement/T1#2": calc(correct=False),
        "reviewer/review/T1#2": APPROVE,
    }
    report = start_run(
        settings,
        write_brief(tmp_path),
        model=script(answers),
        sandbox=sandbox,
        workflow="two-tries",
    ).report
    assert report["status"] == "needs_attention"
    assert "2 attempts exhausted; last tests: 0 passed, 2 failed" in report["reason"]
    assert report["tasks"][0]["attempts"] == 2  # max_attempts (3) did not apply


def test_escalation_starts_from_the_tier_that_answered(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    # Complexity 3 would be the efficient tier by the fixed rule, but the router's policy
    # answered from standard: escalating must go to premium, never "up" to efficient's next.
    answers = happy_path() | {
        "developer/implement/T1#1": calc(correct=False),
        "developer/implement/T1#2": calc(correct=False),
        "developer/implement/T1#3": calc(correct=True),
        "reviewer/review/T1#2": APPROVE,
        "reviewer/review/T1#3": APPROVE,
    }
    asked: list[ModelRequest] = []

    def answer(request: ModelRequest) -> ModelResponse:
        asked.append(request)
        value = answers[request.key.label()]
        tier = "standard" if request.key.role == "developer" else None
        content = value if isinstance(value, str) else json.dumps(value)
        return ModelResponse(content=content, model="routed", tier=tier)

    model = FunctionModel(answer)
    report = start_run(settings, write_brief(tmp_path), model=model, sandbox=sandbox).report
    assert report["status"] == "delivered", report["reason"]
    third = next(r for r in asked if r.key.label() == "developer/implement/T1#3")
    assert third.tier == "premium"
