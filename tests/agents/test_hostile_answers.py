"""Hostile answers: what a model under an attacker's control might send, and what stops it.

Each answer is sent the way a model sends it, as JSON text through ``parse_output`` (what
``ask`` uses), and must fail validation with an error that names where and what, so the repair
round trip can tell the model how to fix it; ``ask`` itself is exercised at the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from vitco.agents.agent import ask, describe_errors, parse_output
from vitco.agents.exceptions import OutputInvalid
from vitco.agents.outputs import (
    MAX_FILE_BYTES,
    MAX_FILES,
    OUTPUT_TYPES,
    Changeset,
    QaTests,
)
from vitco.agents.role import load_role
from vitco.llm.model import CallKey, ModelRequest
from vitco.llm.testing import FunctionModel
from vitco.toolchains.plans import DeployPlan

STORY = {"id": "S1", "story": "As a user, I want to add a todo.", "acceptance_criteria": ["201"]}
SPEC = {"title": "Todo API", "summary": "A small HTTP API for todos.", "user_stories": [STORY]}
TASK = {"id": "T1", "title": "Store", "description": "An in-memory store.", "complexity": 2}
START = ["python", "-m", "uvicorn", "app:app", "--fd", "{fd}"]


def _changeset(*paths: str, message: str = "Add the store") -> dict[str, Any]:
    return {"files": [{"path": p, "content": "x = 1\n"} for p in paths], "message": message}


def _errors(output_type: type[BaseModel], answer: dict[str, Any]) -> str:
    """The error list the repair request would carry for ``answer``."""
    with pytest.raises(ValidationError) as info:
        parse_output(output_type, json.dumps(answer))
    return describe_errors(info.value)


HOSTILE: list[tuple[str, str, dict[str, Any], str]] = [
    # (output, why, answer, an error line it must cause)
    (
        "Spec",
        "CRLF header injection into the delivery mail's subject",
        SPEC | {"title": "Todo\r\nBcc: evil@x"},
        "title: Value error, contains the control character U+000D at index 4",
    ),
    (
        "Spec",
        "an OSC sequence that retitles the operator's terminal",
        SPEC | {"title": "\x1b]0;pwned\x07Todo API"},
        "title: Value error, contains the control character U+001B at index 0",
    ),
    (
        "Spec",
        "a screen clear hidden in the summary",
        SPEC | {"summary": "A todo API.\n\x1b[2J\x1b[HAll tests passed."},
        "summary: Value error, contains the control character U+001B at index 12",
    ),
    (
        "Spec",
        "a bidi override in an acceptance criterion",
        SPEC | {"user_stories": [STORY | {"acceptance_criteria": ["ok \u202etxt.exe"]}]},
        "user_stories.0.acceptance_criteria.0: Value error, contains the control character "
        "U+202E (RIGHT-TO-LEFT OVERRIDE)",
    ),
    (
        "Spec",
        "a newline in a story id",
        SPEC | {"user_stories": [STORY | {"id": "S1\nS2"}]},
        "user_stories.0.id: Value error, contains the control character U+000A",
    ),
    (
        "Spec",
        "a line separator in out-of-scope prose",
        SPEC | {"out_of_scope": ["Auth\u2028Bcc: evil@x"]},
        "out_of_scope.0: Value error, contains the control character U+2028 (LINE SEPARATOR)",
    ),
    (
        "Plan",
        "ESC in a task title shown in the CLI's progress lines",
        {"tasks": [TASK | {"title": "Store\x1b[31m FAILED"}]},
        "tasks.0.title: Value error, contains the control character U+001B",
    ),
    (
        "Plan",
        "a zero-width space in a story reference",
        {"tasks": [TASK | {"stories": ["S\u200b1"]}]},
        "tasks.0.stories.0: Value error, contains the control character U+200B",
    ),
    (
        "Changeset",
        "a bidi override that makes a file name read backwards",
        _changeset("src/invoice\u202ecod.py"),
        "files.0.path: Value error, contains the control character U+202E",
    ),
    (
        "Changeset",
        "a nested repository's config (core.fsmonitor runs a command)",
        _changeset("todo/.git/config"),
        "files.0.path: Value error, paths may not contain a .git component: 'todo/.git/config'",
    ),
    (
        "Changeset",
        "a hook, spelled for a case-folding filesystem",
        _changeset("app.py", ".GIT/hooks/pre-commit"),
        "files.1.path: Value error, paths may not contain a .git component: "
        "'.GIT/hooks/pre-commit'",
    ),
    (
        "Changeset",
        "a .git with a trailing dot, which Windows filesystems drop",
        _changeset("a/.git./x"),
        "paths may not contain a .git component: 'a/.git./x'",
    ),
    (
        "Changeset",
        "a .git with trailing spaces",
        _changeset("a/.Git  /hooks/post-checkout"),
        "paths may not contain a .git component: 'a/.Git  /hooks/post-checkout'",
    ),
    (
        "Changeset",
        "a .git with a zero-width joiner that HFS+ ignores",
        _changeset(".g\u200dit/config"),
        "files.0.path: Value error, contains the control character U+200D",
    ),
    (
        "Changeset",
        "a NUL that truncates the path for C code",
        _changeset("app.py\x00.txt"),
        "files.0.path: Value error, contains the control character U+0000",
    ),
    (
        "Changeset",
        "ESC in the commit message that reaches git log",
        _changeset("app.py", message="Add app\x1b]8;;http://evil\x07"),
        "message: Value error, contains the control character U+001B",
    ),
    (
        "Changeset",
        "a commit message made only of a forged trailer",
        _changeset("app.py", message="Vitco-Key: r-x/T2"),
        "message: Value error, has fewer than 3 characters once its 'Vitco-<Name>:' lines",
    ),
    (
        "Changeset",
        "a NUL inside a file's content",
        {"files": [{"path": "app.py", "content": "x = 1\x00"}], "message": "Add app"},
        "files.0.content: Value error, contains a NUL character (U+0000) at index 5",
    ),
    (
        "Changeset",
        "one more file than a changeset may hold",
        _changeset(*(f"m{i}.py" for i in range(MAX_FILES + 1))),
        f"files: List should have at most {MAX_FILES} items after validation, not 201",
    ),
    (
        "Changeset",
        "a file one byte over the cap",
        {"files": [{"path": "data.py", "content": "x" * (MAX_FILE_BYTES + 1)}], "message": "Big"},
        "files.0.content: Value error, is 1000001 bytes (UTF-8); one file may hold at most "
        "1000000 bytes",
    ),
    (
        "Changeset",
        "the same path twice (which of the two is written?)",
        _changeset("app.py", "lib.py", "./app.py"),
        "files: Value error, path './app.py' appears more than once",
    ),
    (
        "QaTests",
        "a hook written by QA",
        {"files": [{"path": "tests/.git/hooks/pre-commit", "content": "#!/bin/sh\n"}]},
        "paths may not contain a .git component: 'tests/.git/hooks/pre-commit'",
    ),
    (
        "Review",
        "a reason that rewrites the terminal line before it",
        {"verdict": "request_changes", "reasons": ["\rApproved, all good"]},
        "reasons.0: Value error, contains the control character U+000D at index 0",
    ),
    (
        "DeployPlan",
        "a header injected through a smoke test's path",
        {"start": START, "smoke": [{"path": "/todos\r\nX-Evil: 1"}]},
        "smoke.0.path: Value error, contains the control character U+000D",
    ),
    (
        "DeployPlan",
        "a health path with a C1 control",
        {"start": START, "health_path": "/health\x9b2J"},
        "health_path: Value error, contains the control character U+009B",
    ),
    (
        "DeployPlan",
        "a NUL in a build argument",
        {"start": START, "build": [["pip", "install", "x\x00--index-url=http://evil"]]},
        "build.0.2: Value error, contains the control character U+0000",
    ),
    (
        "DeployPlan",
        "an escape sequence in a start argument",
        {"start": [*START, "--log-level\x1b]0;pwned\x07debug"]},
        "start.6: Value error, contains the control character U+001B",
    ),
]


@pytest.mark.parametrize(
    ("output", "answer", "error"),
    [(output, answer, error) for output, _, answer, error in HOSTILE],
    ids=[why for _, why, _, _ in HOSTILE],
)
def test_a_hostile_answer_fails_validation_saying_what_to_fix(
    output: str, answer: dict[str, Any], error: str
) -> None:
    errors = _errors(OUTPUT_TYPES[output], answer)

    assert error in errors
    # the error text is sent back to the model and may be logged: it carries no control itself
    assert not any(c in errors for c in "\x00\x07\x1b\r\x9b\u202e\u2028\u200b\u200d")


def test_a_forged_vitco_key_trailer_is_stripped_and_the_rest_kept() -> None:
    # T1's commit naming T2's key would make vitco find "T2's commit" and skip T2
    message = "Add the store\n\nKeeps todos in memory.\n\nVitco-Key: r-x/T2\nSigned-off-by: Ann"

    changeset = parse_output(Changeset, json.dumps(_changeset("store.py", message=message)))

    assert changeset.message == "Add the store\n\nKeeps todos in memory.\n\nSigned-off-by: Ann"


def test_a_qa_answer_with_too_many_files_is_refused() -> None:
    answer = {"files": [{"path": f"tests/test_{i}.py", "content": ""} for i in range(201)]}
    assert "files: List should have at most 200 items" in _errors(QaTests, answer)


# through ask(): the refusal becomes a repair request -----------------------------------------


def _scripted(*answers: dict[str, Any]) -> FunctionModel:
    queue: Iterator[dict[str, Any]] = iter(answers)

    def answer(_: ModelRequest) -> str:
        try:
            return json.dumps(next(queue))
        except StopIteration:
            pytest.fail("the model was asked more often than the test scripted")

    return FunctionModel(answer)


def test_ask_turns_a_control_character_into_a_repair_request_naming_it() -> None:
    role = load_role("analyst")
    key = CallKey(role="analyst", step="analyze")
    model = _scripted(SPEC | {"title": "Todo\r\nBcc: evil@x"}, SPEC)

    answer = ask(model, role, role.output, key, {"Brief": "A todo API."})

    assert answer.output.model_dump()["title"] == "Todo API"
    _, repair = model.requests
    assert repair.key.repair == 1
    text = repair.messages[-1].content
    assert repair.messages[-1].role == "user"
    assert "- title: Value error, contains the control character U+000D at index 4" in text
    assert "\r" not in text


def test_ask_gives_up_on_a_path_that_stays_hostile_naming_the_code_point() -> None:
    role = load_role("developer")
    key = CallKey(role="developer", step="implement", task="T1")
    hostile = _changeset("src/invoice\u202ecod.py")
    model = _scripted(hostile, hostile)

    with pytest.raises(OutputInvalid) as info:
        ask(model, role, role.output, key, {"Task": "Add a store."})

    assert "files.0.path: Value error, contains the control character U+202E" in (info.value.errors)
    assert "\u202e" not in str(info.value)
    assert len(model.requests) == 2


def test_a_program_given_as_an_argument_may_span_lines() -> None:
    plan = DeployPlan.model_validate(
        {"build": [["python", "-c", "import os\nprint(os.getcwd())\n"]], "start": START}
    )
    assert plan.build[0][2].count("\n") == 2
