"""Roles as data, and ``ask``: one typed answer per call, one repair on a validation failure."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vitco.agents.agent import ask, build_request, render_sections
from vitco.agents.exceptions import OutputInvalid, UnknownRole
from vitco.agents.outputs import OUTPUT_TYPES
from vitco.agents.role import ROLES_DIR, Role, load_role, role_names
from vitco.llm.model import CallKey, ModelRequest
from vitco.llm.testing import FunctionModel

EXPECTED_OUTPUTS = {
    "analyst": "Spec",
    "manager": "Plan",
    "developer": "DeveloperAnswer",
    "qa": "QaTests",
    "reviewer": "Review",
    "devops": "DeployPlan",
}

# Per output type: a valid answer, and an invalid one with a fragment of the error it must cause.
VALID: dict[str, dict[str, Any]] = {
    "Spec": {
        "title": "Todo API",
        "summary": "A small HTTP API to keep a todo list.",
        "user_stories": [
            {
                "id": "S1",
                "story": "As a user, I want to add a todo, so that I remember it.",
                "acceptance_criteria": ["POST /todos returns 201"],
            }
        ],
    },
    "Plan": {
        "tasks": [
            {"id": "T1", "title": "Store", "description": "An in-memory store.", "complexity": 2},
            {
                "id": "T2",
                "title": "API",
                "description": "FastAPI routes on the store.",
                "complexity": 4,
                "depends_on": ["T1"],
            },
        ]
    },
    "Changeset": {"files": [{"path": "app.py", "content": "x = 1\n"}], "message": "Add app"},
    "DeveloperAnswer": {"tools": [{"tool": "read", "path": "app.py", "start": 1}]},
    "QaTests": {"files": [{"path": "tests/test_app.py", "content": "def test_x(): pass\n"}]},
    "Review": {"verdict": "approve"},
    "DeployPlan": {"start": ["python", "-m", "uvicorn", "app:app", "--fd", "{fd}"]},
}
INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "Spec": ({"title": "Todo API", "summary": "A small HTTP API."}, "user_stories: Field required"),
    "Plan": (
        {"tasks": [VALID["Plan"]["tasks"][0], VALID["Plan"]["tasks"][0]]},
        "duplicate task ids: T1",
    ),
    "Changeset": (
        {"files": [{"path": "app.py"}], "message": "Add app"},
        "action 'write' needs 'content'",
    ),
    "DeveloperAnswer": (
        {"tools": [{"tool": "search"}]},
        "search needs the text to find",
    ),
    "QaTests": (
        {"files": [{"path": "app.py", "content": "x"}]},
        "qa may only write test files under tests/, not 'app.py'",
    ),
    "Review": ({"verdict": "request_changes"}, "request_changes needs at least one reason"),
    "DeployPlan": ({"start": ["python", "app.py"]}, "start must serve on the listening socket"),
}


def _scripted(*answers: str) -> FunctionModel:
    """A model that gives ``answers`` in turn and fails the test if asked once more."""
    queue: Iterator[str] = iter(answers)

    def answer(_: ModelRequest) -> str:
        try:
            return next(queue)
        except StopIteration:
            pytest.fail("the model was asked more often than the test scripted")

    return FunctionModel(answer)


def _key(role: Role) -> CallKey:
    return CallKey(role=role.name, step="work", task="T1", attempt=2)


# roles --------------------------------------------------------------------------------------


def test_role_names_lists_the_six_roles() -> None:
    assert role_names() == sorted(EXPECTED_OUTPUTS)


@pytest.mark.parametrize("name", sorted(EXPECTED_OUTPUTS))
def test_every_role_loads_with_the_output_its_toml_names(name: str) -> None:
    data = tomllib.loads((ROLES_DIR / name / "role.toml").read_text(encoding="utf-8"))

    role = load_role(name)

    assert role.output.__name__ == data["output"] == EXPECTED_OUTPUTS[name]
    assert "step" not in data  # a step names its role (workflow.steps), not the other way
    assert role.complexity == data["complexity"]
    assert role.prompt  # the system prompt is not empty
    assert role.prompt == role.prompt.strip()


def _role_dir(tmp_path: Path, name: str, toml: str | None, prompt: str | None = "Be good.") -> Path:
    folder = tmp_path / "roles" / name
    folder.mkdir(parents=True)
    if toml is not None:
        (folder / "role.toml").write_text(toml, encoding="utf-8")
    if prompt is not None:
        (folder / "prompt.md").write_text(prompt, encoding="utf-8")
    return tmp_path / "roles"


def test_a_role_from_another_dir_loads(tmp_path: Path) -> None:
    roles = _role_dir(tmp_path, "tester", 'output = "Review"\n', "  Check it.\n")
    role = load_role("tester", roles)
    assert (role.name, role.title, role.output.__name__, role.complexity) == (
        "tester",
        "tester",
        "Review",
        5,
    )
    assert role.prompt == "Check it."
    assert role_names(roles) == ["tester"]


def test_an_unknown_role_raises_unknown_role(tmp_path: Path) -> None:
    (tmp_path / "roles").mkdir()
    with pytest.raises(UnknownRole) as info:
        load_role("nobody", tmp_path / "roles")
    assert info.value.role == "nobody"
    assert "needs role.toml and prompt.md" in info.value.reason


@pytest.mark.parametrize(
    ("toml", "prompt", "problem"),
    [
        ('output = "Review"\n', None, "needs role.toml and prompt.md"),
        ('output = "Poem"\n', "p", "output 'Poem' is not one of"),
        ("", "p", "output None is not one of"),
        ('output = "Review\n', "p", "is not valid TOML"),
        ('output = "Review"\ncomplexity = 11\n', "p", "complexity 11 is not"),
        ('output = "Review"\ncomplexity = "hard"\n', "p", "complexity 'hard' is not"),
    ],
    ids=[
        "no-prompt",
        "unknown-output",
        "no-output",
        "bad-toml",
        "complexity-11",
        "complexity-text",
    ],
)
def test_a_malformed_role_raises_unknown_role_naming_the_problem(
    tmp_path: Path, toml: str, prompt: str | None, problem: str
) -> None:
    roles = _role_dir(tmp_path, "broken", toml, prompt)
    with pytest.raises(UnknownRole) as info:
        load_role("broken", roles)
    assert info.value.role == "broken"
    assert problem in info.value.reason
    assert "broken" in str(info.value)


# requests -----------------------------------------------------------------------------------


def test_render_sections_skips_empty_inputs_and_renders_data_as_json() -> None:
    text = render_sections(
        {"Task": "Add a store.", "Empty": "", "None": None, "Files": ["a.py"], "Meta": {}}
    )
    assert text == '## Task\n\nAdd a store.\n\n## Files\n\n[\n  "a.py"\n]'


def test_build_request_carries_prompt_schema_key_and_complexity() -> None:
    role = load_role("developer")
    key = _key(role)

    request = build_request(role, key, {"Task": "Add a store."})
    harder = build_request(role, key, {"Task": "Add a store."}, complexity=9)

    assert [m.role for m in request.messages] == ["system", "user"]
    assert request.messages[0].content == role.prompt
    assert request.messages[1].content == "## Task\n\nAdd a store."
    assert (request.key, request.output_name) == (key, "DeveloperAnswer")
    assert request.output_schema == OUTPUT_TYPES["DeveloperAnswer"].model_json_schema()
    assert (request.complexity, harder.complexity) == (role.complexity, 9)


# ask ----------------------------------------------------------------------------------------

ROLES = sorted(EXPECTED_OUTPUTS)


@pytest.mark.parametrize("name", ROLES)
def test_a_valid_answer_validates_first_time(name: str) -> None:
    role = load_role(name)
    model = _scripted(json.dumps(VALID[role.output.__name__]))

    answer = ask(model, role, role.output, _key(role), {"Brief": "A todo API."})

    assert answer.output == role.output.model_validate(VALID[role.output.__name__])
    assert len(model.requests) == 1
    assert len(answer.responses) == 1
    assert model.requests[0].key == _key(role)


@pytest.mark.parametrize("name", ROLES)
def test_an_invalid_answer_is_repaired_once(name: str) -> None:
    role = load_role(name)
    invalid, error = INVALID[role.output.__name__]
    bad = json.dumps(invalid)
    model = _scripted(bad, json.dumps(VALID[role.output.__name__]))

    answer = ask(model, role, role.output, _key(role), {"Brief": "A todo API."})

    assert answer.output == role.output.model_validate(VALID[role.output.__name__])
    assert len(model.requests) == 2
    assert len(answer.responses) == 2
    first, repair = model.requests
    assert repair.key == _key(role).model_copy(update={"repair": 1})
    assert repair.messages[: len(first.messages)] == first.messages
    assert [(m.role, m.content) for m in repair.messages[len(first.messages) : -1]] == [
        ("assistant", bad)
    ]
    last = repair.messages[-1]
    assert last.role == "user"
    assert error in last.content
    assert role.output.__name__ in last.content


@pytest.mark.parametrize("name", ROLES)
def test_two_invalid_answers_raise_output_invalid(name: str) -> None:
    role = load_role(name)
    invalid, _ = INVALID[role.output.__name__]
    model = _scripted(json.dumps(invalid), "this is not JSON at all")

    with pytest.raises(OutputInvalid) as info:
        ask(model, role, role.output, _key(role), {"Brief": "A todo API."})

    assert info.value.role == name
    assert info.value.call == _key(role).label()
    assert info.value.output == role.output.__name__
    assert "Invalid JSON" in info.value.errors
    assert len(model.requests) == 2


def test_output_invalid_reports_the_second_answers_errors() -> None:
    role = load_role("reviewer")
    invalid, error = INVALID["Review"]
    model = _scripted("{}", json.dumps(invalid))

    with pytest.raises(OutputInvalid) as info:
        ask(model, role, role.output, CallKey(role="reviewer", step="review", task="T3"), {})

    assert error in info.value.errors
    assert info.value.call == "reviewer/review/T3#1"
    assert "reviewer/review/T3#1" in str(info.value)


@pytest.mark.parametrize("fence", ["```json\n{}\n```", "```\n{}\n```", "  ```json\n{}\n```  \n"])
def test_an_answer_in_a_code_fence_is_accepted(fence: str) -> None:
    role = load_role("developer")
    body = json.dumps(VALID["Changeset"], indent=2)
    model = _scripted(fence.replace("{}", body))

    answer = ask(model, role, role.output, _key(role), {"Task": "Add app."})

    assert answer.output == role.output.model_validate(VALID["Changeset"])
    assert len(model.requests) == 1


def test_a_long_list_of_errors_is_trimmed_in_the_repair_message() -> None:
    role = load_role("analyst")
    many = {"title": "T", "summary": "short", "user_stories": [{}] * 5}
    model = _scripted(json.dumps(many), json.dumps(VALID["Spec"]))

    ask(model, role, role.output, _key(role), {"Brief": "A todo API."})

    message = model.requests[1].messages[-1].content
    assert "- title: String should have at least 3 characters" in message
    assert message.count("\n- ") == 9  # eight errors and the rest summed up
    assert "- ... and 9 more" in message
