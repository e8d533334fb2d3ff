"""The typed outputs: what each role must hand back, and the rules beyond field types."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from vitco.agents.outputs import (
    MAX_CHANGESET_BYTES,
    MAX_FILE_BYTES,
    MAX_FILES,
    Changeset,
    FileChange,
    Plan,
    PlanTask,
    QaTests,
    Review,
    Spec,
    topological_order,
)
from vitco.toolchains.plans import DeployPlan


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
    assert f"qa may only write test files under tests/, not {path!r}" in str(info.value)


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
    assert "start must serve on the listening socket" in str(info.value)


def test_deploy_plan_accepts_the_socket_inside_an_argument() -> None:
    plan = DeployPlan.model_validate({"start": ["python", "-m", "uvicorn", "app:app", "--fd={fd}"]})
    assert (plan.build, plan.health_path, plan.smoke) == ([], "/health", [])


def test_deploy_plan_paths_must_be_absolute() -> None:
    with pytest.raises(ValidationError) as info:
        DeployPlan.model_validate(
            {"start": ["{fd}"], "health_path": "health", "smoke": [{"path": "todos"}]}
        )
    message = str(info.value)
    assert "health_path" in message
    assert "smoke.0.path" in message


# Control characters -------------------------------------------------------------------------

SPEC: dict[str, Any] = {
    "title": "Todo API",
    "summary": "A small HTTP API to keep a todo list.",
    "user_stories": [
        {"id": "S1", "story": "As a user, I want a list.", "acceptance_criteria": ["GET works"]}
    ],
}


def _spec_error(**fields: Any) -> str:
    with pytest.raises(ValidationError) as info:
        Spec.model_validate(SPEC | fields)
    return str(info.value)


def test_ordinary_prose_with_tabs_accents_dashes_and_emoji_validates() -> None:
    summary = "Café – naïve todo list.\n\n\t- keeps items\n\t- ships 🚀 in 日本語 too\n"
    spec = Spec.model_validate(
        SPEC | {"title": "Café – naïve Todo 🎉", "summary": summary, "out_of_scope": ["Auth\n"]}
    )
    assert (spec.title, spec.summary) == ("Café – naïve Todo 🎉", summary)
    review = Review.model_validate({"verdict": "request_changes", "reasons": ["Fix\n\tthis"]})
    assert review.reasons == ["Fix\n\tthis"]


@pytest.mark.parametrize(
    ("char", "code"),
    [
        ("\n", "U+000A"),
        ("\r", "U+000D"),
        ("\t", "U+0009"),
        ("\x1b", "U+001B"),
        ("\x7f", "U+007F"),
        ("\x85", "U+0085"),
        ("\u200b", "U+200B (ZERO WIDTH SPACE)"),
        ("\u2066", "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
        ("\ufeff", "U+FEFF (ZERO WIDTH NO-BREAK SPACE)"),
        ("\u2029", "U+2029 (PARAGRAPH SEPARATOR)"),
        ("\U000e0041", "U+E0041 (TAG LATIN CAPITAL LETTER A)"),
    ],
)
def test_a_single_line_refuses_every_control_and_format_character(char: str, code: str) -> None:
    message = _spec_error(title=f"Todo{char}API")
    assert "title\n  Value error, contains the control character " + code + " at index 4" in (
        message
    )


@pytest.mark.parametrize(
    ("char", "code"),
    [
        ("\r", "U+000D"),
        ("\x00", "U+0000"),
        ("\x1b", "U+001B"),
        ("\u202e", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ],
)
def test_prose_allows_only_line_feeds_and_tabs(char: str, code: str) -> None:
    message = _spec_error(summary=f"A todo API.\n\tWith{char} lists.")
    assert f"contains the control character {code} at index 17" in message
    assert "only line breaks (U+000A) and tabs (U+0009) are allowed" in message


def test_file_content_is_the_repos_business_except_nul() -> None:
    odd = "print('\x1b[1mbold\x1b[0m')\r\n# \u202e \u200b \x7f\n"
    assert FileChange(path="app.py", content=odd).content == odd
    with pytest.raises(ValidationError) as info:
        FileChange(path="app.py", content="x\x00")
    assert "contains a NUL character (U+0000) at index 1" in str(info.value)


# Paths --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [".git", ".git/config", "a/b/.git/HEAD", ".GIT/x", "a/.Git", "a/.git./x", "a/.git ./x"],
)
def test_a_git_component_at_any_depth_is_refused(path: str) -> None:
    with pytest.raises(ValidationError) as info:
        FileChange(path=path, content="")
    assert f"paths may not contain a .git component: {path!r}" in str(info.value)


@pytest.mark.parametrize(
    "path",
    [
        ".gitignore",
        ".github/workflows/ci.yml",
        "src/git/x.py",
        "a/.git-x",
        "a/x.git",
        "docs/日本語.md",
    ],
)
def test_names_that_only_look_like_git_are_files(path: str) -> None:
    assert FileChange(path=path, content="").path == path


def test_a_path_component_may_hold_255_bytes_and_a_path_4096_characters() -> None:
    assert FileChange(path="é" * 127 + "x", content="").path  # 255 bytes
    assert FileChange(path="/".join(["d" * 255] * 16), content="").path  # 4095 characters
    with pytest.raises(ValidationError) as info:
        FileChange(path="src/" + "é" * 128, content="")
    assert "is 256 bytes; at most 255" in str(info.value)
    with pytest.raises(ValidationError) as info:
        FileChange(path="/".join(["d" * 255] * 16) + "/x", content="")
    assert "String should have at most 4096 characters" in str(info.value)


# Size caps and duplicates -------------------------------------------------------------------


def _files(count: int, content: str = "") -> list[dict[str, Any]]:
    return [{"path": f"m{i}.py", "content": content} for i in range(count)]


def test_a_changeset_may_hold_max_files_and_not_one_more() -> None:
    many = Changeset.model_validate({"files": _files(MAX_FILES), "message": "Many"})
    assert len(many.files) == MAX_FILES
    with pytest.raises(ValidationError) as info:
        Changeset.model_validate({"files": _files(MAX_FILES + 1), "message": "Many"})
    assert f"at most {MAX_FILES} items after validation, not {MAX_FILES + 1}" in str(info.value)


def test_a_file_cap_counts_utf8_bytes_not_characters() -> None:
    assert FileChange(path="a.py", content="x" * MAX_FILE_BYTES).content is not None
    half = MAX_FILE_BYTES // 2
    assert FileChange(path="a.py", content="é" * half).content is not None
    with pytest.raises(ValidationError) as info:
        FileChange(path="a.py", content="é" * (half + 1))  # fewer characters than the cap
    assert f"is {MAX_FILE_BYTES + 2} bytes (UTF-8)" in str(info.value)


def test_a_changeset_cap_counts_all_its_files() -> None:
    size = MAX_FILE_BYTES - 1
    fits = MAX_CHANGESET_BYTES // size
    big = Changeset.model_validate({"files": _files(fits, "x" * size), "message": "Big"})
    assert len(big.files) == fits
    with pytest.raises(ValidationError) as info:
        Changeset.model_validate({"files": _files(fits + 1, "x" * size), "message": "Big"})
    assert f"the files hold {(fits + 1) * size} bytes (UTF-8) together" in str(info.value)
    assert f"at most {MAX_CHANGESET_BYTES} bytes" in str(info.value)


@pytest.mark.parametrize(("first", "second"), [("a.py", "a.py"), ("a/b.py", "a//b.py")])
def test_a_path_named_twice_is_refused(first: str, second: str) -> None:
    files = [{"path": first, "content": "1"}, {"path": second, "action": "delete"}]
    with pytest.raises(ValidationError) as info:
        Changeset.model_validate({"files": files, "message": "Twice"})
    assert f"path {second!r} appears more than once" in str(info.value)
    with pytest.raises(ValidationError):
        QaTests.model_validate({"files": [{"path": "tests/t.py", "content": ""}] * 2})


# Commit trailers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Vitco-Key: r-x/T2",
        "vitco-key:r-x/T2",
        "  VITCO-KEY : r-x/T2",
        "\tVitco-Key: r-x/T2",
        "Vitco-Run-Id: r-x",
    ],
)
def test_a_vitco_trailer_line_is_removed_wherever_it_is(line: str) -> None:
    message = f"Add the store\n{line}\n\nKeeps todos.\n\n{line}"
    changeset = Changeset.model_validate({"files": _files(1), "message": message})
    assert changeset.message == "Add the store\n\nKeeps todos."


@pytest.mark.parametrize(
    "message",
    [
        "Document the Vitco-Key: trailer",
        "vitco: tidy up",
        "Vitco-Key r-x/T2",
        "Add store\n\nSigned-off-by: Ann <ann@example.com>",
    ],
)
def test_a_message_without_a_vitco_trailer_line_is_kept_as_written(message: str) -> None:
    assert Changeset.model_validate({"files": _files(1), "message": message}).message == message


def test_a_message_of_only_trailers_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        Changeset.model_validate({"files": _files(1), "message": "Vitco-Key: a\n vitco-x: b\n"})
    assert "message\n  Value error, has fewer than 3 characters once its" in str(info.value)
