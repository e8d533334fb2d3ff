"""Each role's request holds the context the role needs (asserted on the request the model
receives), the same date everywhere, and no secret from the environment."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.workflow.scripted import SOUND, SPEC, changeset, plan, script, write_brief
from vitco.bootstrap import start_run
from vitco.config import Settings
from vitco.llm.model import ModelRequest
from vitco.sandbox import Sandbox

pytestmark = pytest.mark.slow
SECRET = "sk-test-do-not-leak-0123456789abcdef"

APP = """from fastapi import FastAPI

from calc import add

app = FastAPI()


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/add")
def add_route(a: int, b: int) -> dict[str, int]:
    return {"sum": add(a, b)}
"""
DEV_TEST = "from calc import add\n\n\ndef test_dev_adds() -> None:\n    assert add(1, 1) == 2\n"
QA_TEST = "from calc import add\n\n\ndef test_qa_adds() -> None:\n    assert add(2, 3) == 5\n"


def _work(body: str) -> dict[str, Any]:
    return changeset(
        {
            "calc.py": f"def add(a: int, b: int) -> int:\n    return {body}\n",
            "app.py": APP,
            "README.md": "# Calculator\n\nServe with `python -m uvicorn app:app`.\n",
            "requirements.txt": "fastapi\n",
            "tests/test_dev.py": DEV_TEST,
        }
    )


def _user(model: Any, label: str) -> str:
    found: list[ModelRequest] = [r for r in model.requests if r.key.label() == label]
    assert found, f"no request {label}"
    return str(found[0].messages[-1].content)


def test_every_role_sees_what_it_needs_and_nothing_secret(
    settings: Settings, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET + "x")
    review = {"verdict": "approve", "reasons": []}
    deploy = {
        "start": ["python", "-m", "uvicorn", "app:app", "--lifespan", "off", "--fd", "{fd}"],
        "health_path": "/health",
        "smoke": [{"method": "GET", "path": "/add?a=2&b=3", "expect_status": 200}],
    }
    model = script(
        {
            "analyst/analyze#1": SPEC,
            "reviewer/check_spec#1": SOUND,
            "manager/plan#1": plan("T1"),
            "developer/implement/T1#1": _work("a - b"),  # a bug: QA's test fails
            "reviewer/review/T1#1": review,
            "qa/write_tests/T1#1": {
                "files": [{"path": "tests/test_qa.py", "action": "write", "content": QA_TEST}]
            },
            "developer/implement/T1#2": _work("a + b"),
            "reviewer/review/T1#2": review,
            "devops/deploy#1": deploy,
        }
    )
    outcome = start_run(
        settings.model_copy(update={"max_attempts": 2}),
        write_brief(tmp_path),
        model=model,
        sandbox=sandbox,
    )
    assert outcome.report["status"] == "delivered", outcome.report["reason"]

    # every role: the same environment contract, the run's date and time zone in it
    dates = set()
    for request in model.requests:
        text = request.messages[-1].content
        assert SECRET not in text and SECRET not in request.messages[0].content
        match = re.search(r"Today is \w+ (\d{4}-\d\d-\d\d) \(([^,]+), UTC[+-]\d\d:\d\d\)", text)
        assert match, f"{request.key.label()} has no date"
        dates.add(match.group(1))
        assert "no network" in text
    assert len(dates) == 1

    analyst = _user(model, "analyst/analyze#1")
    assert "## Brief" in analyst and "Add two numbers." in analyst

    manager = _user(model, "manager/plan#1")
    assert "## Toolchains" in manager and "### python-service" in manager
    assert "health path answers 200" in manager  # the deployment contract
    assert "## Specification" in manager

    developer = _user(model, "developer/implement/T1#1")
    assert "`python -m pytest -q` runs in the repository root" in developer  # test command
    assert re.search(r"Python 3\.\d+\.\d+", developer)  # the Python version
    assert re.search(r"fastapi==\d", developer)  # installed packages with versions
    assert "`import pkg`" in developer  # the import path
    assert "health path answers 200" in developer  # how the app is started and checked
    assert "in the order listed" in developer  # smoke requests run in order
    assert "attempt 1 of at most 2" in developer
    assert "## Tools" in developer

    second = _user(model, "developer/implement/T1#2")
    assert "test_qa_adds" in second  # the failure to fix
    assert "return a - b" in second  # its own previous work, in full

    reviewer = _user(model, "reviewer/review/T1#2")
    assert "## Acceptance criteria" in reviewer and "2+3=5" in reviewer
    assert "## Diff against the base" in reviewer and "+    return a + b" in reviewer
    assert "b/calc.py" in reviewer
    assert "## Files it touches" in reviewer and "def add_route" in reviewer
    assert "## Last test output" in reviewer and "test_qa_adds" in reviewer
    assert "attempt 2 of at most 2. It is the last attempt." in reviewer
    first_review = _user(model, "reviewer/review/T1#1")
    assert "No test run yet" in first_review and "last attempt" not in first_review

    qa = _user(model, "qa/write_tests/T1#1")
    assert "## Public surface of the code" in qa
    assert "def add(a: int, b: int) -> int" in qa and "def add_route(a: int, b: int)" in qa
    assert "## Existing test files" in qa and "test_dev_adds" in qa
    assert "keep them" in qa and "tests/test_dev.py" in qa

    devops = _user(model, "devops/deploy#1")
    assert "## README" in devops and "python -m uvicorn app:app" in devops
    assert "## Project metadata" in devops and "requirements.txt" in devops
    assert "## Entry modules" in devops and "app = FastAPI()" in devops
    assert "GET /health -> health" in devops and "GET /add -> add_route" in devops
    assert "## Repository map" in devops
