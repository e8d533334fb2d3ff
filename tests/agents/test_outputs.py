"""The typed outputs: what each role must hand back, and the rules beyond field types."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from vitco.agents.outputs import (
    Changeset,
    DeployPlan,
    FileChange,
    Plan,
    PlanTask,
    QaTests,
    Review,
    topological_order,
)


def _task(task_id: str, *depends_on: str) -> dict[str, Any]:
    return {
        "id": task_id,
        "title": f"Task {task_id}",
        "description": f"Do the work of {task_id}.",
        "complexity": 3,
        "depends_on": list(depends_on),
    }


def _plan_error(tasks: list[dict[str, Any]]) -> str:
    with pytest.raises(ValidationError) as info:
        Plan.model_validate({"tasks": tasks})
    return str(info.value)


# Plan ---------------------------------------------------------------------------------------


def test_a_valid_plan_keeps_its_tasks() -> None:
    plan = Plan.model_validate({"tasks": [_task("T1"), _task("T2", "T1")]})
    assert [t.id for t in plan.tasks] == ["T1", "T2"]
    assert plan.task("T2").depends_on == ["T1"]
    with pytest.raises(KeyError):
        plan.task("T3")


def test_plan_rejects_duplicate_ids_naming_them() -> None:
    message = _plan_error([_task("T1"), _task("T2"), _task("T2")])
    assert "duplicate task ids: T2" in message


def test_plan_rejects_an_unknown_dependency_naming_the_task() -> None:
    message = _plan_error([_task("T1"), _task("T2", "T1", "T9")])
    assert "task T2 depends on unknown task(s): T9" in message


def test_plan_rejects_a_cycle_naming_the_tasks_in_it() -> None:
    message = _plan_error([_task("T1"), _task("T2", "T3"), _task("T3", "T2"), _task("T4", "T1")])
    assert "dependency cycle among tasks: T2, T3" in message


def test_plan_rejects_a_task_depending_on_itself() -> None:
    assert "dependency cycle among tasks: T1" in _plan_error([_task("T1", "T1")])


@pytest.mark.parametrize("bad_id", ["1T", "T 1", "", "T1/../x", "x" * 33])
def test_plan_rejects_a_bad_task_id(bad_id: str) -> None:
    message = _plan_error([_task(bad_id)])
    assert "tasks.0.id" in message
    assert "task id must be a short identifier" in message


def test_plan_needs_at_least_one_task() -> None:
    assert "tasks" in _plan_error([])


def test_topological_order_puts_dependencies_first() -> None:
    tasks = [
        PlanTask.model_validate(t)
        for t in (_task("T3", "T2"), _task("T1"), _task("T2", "T1"), _task("T4"))
    ]
    order = topological_order(tasks)

    assert sorted(order) == ["T1", "T2", "T3", "T4"]
    for task in tasks:
        assert all(order.index(d) < order.index(task.id) for d in task.depends_on), order


def test_topological_order_of_independent_tasks_is_plan_order() -> None:
    tasks = [PlanTask.model_validate(_task(i)) for i in ("T3", "T1", "T2")]
    assert topological_order(tasks) == ["T3", "T1", "T2"]


def test_topological_order_leaves_cyclic_tasks_out() -> None:
    tasks = [PlanTask.model_validate(t) for t in (_task("A", "B"), _task("B", "A"), _task("C"))]
    assert topological_order(tasks) == ["C"]


# Changeset and QaTests ----------------------------------------------------------------------


def test_changeset_write_needs_content() -> None:
    with pytest.raises(ValidationError) as info:
        Changeset.model_validate({"files": [{"path": "app.py"}], "message": "Add app"})
    assert "file 'app.py': action 'write' needs 'content'" in str(info.value)


def test_changeset_delete_needs_no_content_and_empty_content_is_a_write() -> None:
    changeset = Changeset.model_validate(
        {
            "files": [
                {"path": "old.py", "action": "delete"},
                {"path": "pkg/__init__.py", "content": ""},
            ],
            "message": "Tidy up",
        }
    )
    assert [(f.action, f.content) for f in changeset.files] == [("delete", None), ("write", "")]


def test_changeset_needs_a_file() -> None:
    with pytest.raises(ValidationError) as info:
        Changeset.model_validate({"files": [], "message": "Nothing"})
    assert "files" in str(info.value)


@pytest.mark.parametrize("path", ["app.py", "src/tests/test_x.py", "testsuite/test_x.py"])
def test_qa_tests_outside_tests_are_rejected(path: str) -> None:
    with pytest.raises(ValidationError) as info:
        QaTests.model_validate(
            {"files": [{"path": "tests/test_ok.py", "content": ""}, {"path": path, "content": "x"}]}
        )
    assert f"qa may only write under tests/, not {path!r}" in str(info.value)


def test_qa_tests_under_tests_are_accepted() -> None:
    qa = QaTests.model_validate(
        {"files": [{"path": "tests/test_api.py", "content": "def test_x(): pass\n"}]}
    )
    assert qa.files == [FileChange(path="tests/test_api.py", content="def test_x(): pass\n")]


# Review and DeployPlan ----------------------------------------------------------------------


def test_review_request_changes_needs_a_reason() -> None:
    with pytest.raises(ValidationError) as info:
        Review.model_validate({"verdict": "request_changes"})
    assert "request_changes needs at least one reason" in str(info.value)


def test_review_approve_needs_no_reason_and_other_verdicts_are_rejected() -> None:
    assert Review.model_validate({"verdict": "approve"}).reasons == []
    with pytest.raises(ValidationError):
        Review.model_validate({"verdict": "maybe", "reasons": ["?"]})


def test_deploy_plan_must_serve_on_the_socket() -> None:
    with pytest.raises(ValidationError) as info:
        DeployPlan.model_validate({"start": ["python", "-m", "uvicorn", "app:app"]})
    assert "start must serve on '{socket}'" in str(info.value)


def test_deploy_plan_accepts_the_socket_inside_an_argument() -> None:
    plan = DeployPlan.model_validate(
        {"start": ["python", "-m", "uvicorn", "app:app", "--uds={socket}"]}
    )
    assert (plan.build, plan.health_path, plan.smoke) == ([], "/health", [])


def test_deploy_plan_paths_must_be_absolute() -> None:
    with pytest.raises(ValidationError) as info:
        DeployPlan.model_validate(
            {"start": ["{socket}"], "health_path": "health", "smoke": [{"path": "todos"}]}
        )
    message = str(info.value)
    assert "health_path" in message
    assert "smoke.0.path" in message
