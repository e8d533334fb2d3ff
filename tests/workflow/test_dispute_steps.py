"""Disputes instead of dead ends: the developer contests QA's test, QA rules with the spec in
hand, rewrites a wrong test or sends contradicting criteria to the analyst; nothing QA wrote
is restored without the developer being told."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.workflow.scripted import (
    APP,
    APPROVE,
    SPEC,
    calc,
    calc_tests,
    changeset,
    happy_path,
    plan,
    script,
    write_brief,
)
from vitco.bootstrap import start_run
from vitco.config import Settings
from vitco.integrations.git.repo import Repo
from vitco.sandbox import Sandbox
from vitco.store import open_store

pytestmark = pytest.mark.slow

# The link shortener: a rule of 6 to 8 characters next to an example of 9.
RULE = "an alias is 6 to 8 characters long; any other length is refused"
EXAMPLE = "for example, the alias 'abcdefghi' is accepted"
FIXED_EXAMPLE = "for example, the alias 'abcdefgh' is accepted"
ALIAS_SPEC: dict[str, Any] = {
    "title": "Link shortener",
    "summary": "Short aliases for long links, served over HTTP.",
    "user_stories": [
        {
            "id": "S1",
            "story": "As a user, I want to choose an alias, so that links are short",
            "acceptance_criteria": [RULE, EXAMPLE],
        }
    ],
}
ALIAS_PY = "def valid(alias):\n    return 6 <= len(alias) <= 8\n"
ALIAS_CODE = changeset({"alias.py": ALIAS_PY, "app.py": APP}, "Add alias validation")


def alias_tests(example: str) -> dict[str, Any]:
    test = (
        "from alias import valid\n\n\n"
        f"def test_accepts_the_example():\n    assert valid({example!r})\n\n\n"
        "def test_refuses_short():\n    assert not valid('abc')\n"
    )
    return {"files": [{"path": "tests/test_alias.py", "action": "write", "content": test}]}


DISPUTE = {
    "file": "tests/test_alias.py",
    "test": "test_accepts_the_example",
    "criterion": RULE,
    "reason": "The test demands a 9-character alias be accepted; the rule allows 6 to 8.",
}


def _prompt(model: Any, label: str) -> str:
    request = next(r for r in model.requests if r.key.label() == label)
    return str(request.messages[-1].content)


def test_a_contradiction_in_the_spec_is_resolved_by_a_dispute(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    amended = copy.deepcopy(ALIAS_SPEC)
    amended["user_stories"][0]["acceptance_criteria"] = [RULE, FIXED_EXAMPLE]
    answers = happy_path() | {
        "analyst/analyze#1": ALIAS_SPEC,
        "developer/implement/T1#1": ALIAS_CODE,
        "qa/write_tests/T1#1": alias_tests("abcdefghi"),  # QA copied the example
        "developer/implement/T1#2": ALIAS_CODE | {"disputes": [DISPUTE]},
        "qa/rule/T1#2": {
            "decision": "spec_contradiction",
            "reason": "The example has 9 characters; the rule allows at most 8.",
            "criteria": [RULE, EXAMPLE],
        },
        "analyst/amend_spec/T1#2": amended,
        "reviewer/review/T1#2": APPROVE,
        "qa/write_tests/T1#2": alias_tests("abcdefgh"),
    }
    model = script(answers)
    report = start_run(settings, write_brief(tmp_path), model=model, sandbox=sandbox).report
    assert report["status"] == "delivered", report["reason"]
    assert report["tasks"][0]["attempts"] == 2

    labels = [r.key.label() for r in model.requests]
    order = [
        "developer/implement/T1#2",
        "qa/rule/T1#2",
        "analyst/amend_spec/T1#2",
        "reviewer/review/T1#2",
        "qa/write_tests/T1#2",
        "devops/deploy#1",
    ]
    assert [label for label in labels if label in order] == order
    # the developer was told the test file is QA's and how to contest it
    developer = _prompt(model, "developer/implement/T1#2")
    assert "QA's test files" in developer and "- tests/test_alias.py" in developer
    assert "disputes" in developer and "The tests failed" in developer
    # QA ruled with the whole spec, its tests and the dispute in hand
    qa = _prompt(model, "qa/rule/T1#2")
    assert RULE in qa and EXAMPLE in qa and "abcdefghi" in qa
    assert DISPUTE["reason"] in qa
    # the analyst saw both criteria and QA's finding
    analyst = _prompt(model, "analyst/amend_spec/T1#2")
    assert "Contradicting criteria" in analyst and "at most 8" in analyst
    # QA rewrote its tests against the amended spec, seeing the old ones
    rewrite = _prompt(model, "qa/write_tests/T1#2")
    assert FIXED_EXAMPLE in rewrite and EXAMPLE not in rewrite.split("## Your tests so far")[0]
    assert "Your tests so far" in rewrite and "abcdefghi" in rewrite

    repo = Repo(Path(report["repo"]))
    assert "valid('abcdefgh')" in repo.git("show", "main:tests/test_alias.py")
    [amendment] = report["amendments"]
    assert amendment["by"] == "dispute" and amendment["task"] == "T1"
    assert amendment["why"]["criteria"] == [RULE, EXAMPLE]
    [dispute] = report["disputes"]
    assert dispute["decision"] == "spec_contradiction" and dispute["disputes"] == [DISPUTE]
    store = open_store(settings)
    run_id = report["run_id"]
    spec = store.get_artifact(amendment["spec"])
    assert spec["user_stories"][0]["acceptance_criteria"] == [RULE, FIXED_EXAMPLE]
    events = [(e.kind, e.message) for e in store.events(run_id)]
    assert any(k == "spec_amended" and "dispute" in m for k, m in events)
    assert any(k == "ruling" and "spec contradiction" in m for k, m in events)
    # the delivery mail names the amended spec's title (the run went on with it)
    assert store.artifacts(run_id, "spec")[-1].id == amendment["spec"]


def test_a_wrong_qa_test_is_rewritten_by_qa(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    wrong = calc_tests()
    content = wrong["files"][0]["content"]
    wrong["files"][0]["content"] = content.replace("== 5", "== 6")
    own_test = "from calc import add\n\n\ndef test_mine():\n    assert add(1, 1) == 2\n"
    answers = happy_path() | {
        # the developer also writes the test file QA will own: QA's version wins, and it is told
        "developer/implement/T1#1": changeset(
            {"calc.py": "def add(a, b):\n    return a + b\n", "app.py": APP}
            | {"tests/test_calc.py": own_test}
        ),
        "qa/write_tests/T1#1": wrong,
        "developer/implement/T1#2": calc()
        | {
            "disputes": [
                {
                    "file": "tests/test_calc.py",
                    "test": "test_adds",
                    "criterion": "2+3=5",
                    "reason": "The test expects add(2, 3) to be 6; the criterion says 5.",
                }
            ]
        },
        "qa/rule/T1#2": {
            "decision": "tests_rewritten",
            "reason": "test_adds expected 6; the criterion says 2+3=5.",
            "files": calc_tests()["files"],
        },
        "reviewer/review/T1#2": APPROVE,
    }
    model = script(answers)
    report = start_run(settings, write_brief(tmp_path), model=model, sandbox=sandbox).report
    assert report["status"] == "delivered", report["reason"]

    developer = _prompt(model, "developer/implement/T1#2")
    assert "Not applied from your last changeset" in developer
    assert "You wrote QA's test files tests/test_calc.py" in developer
    qa = _prompt(model, "qa/rule/T1#2")
    assert "== 6" in qa and "2+3=5" in qa and "The test expects add(2, 3) to be 6" in qa
    labels = [r.key.label() for r in model.requests]
    assert "qa/write_tests/T1#2" not in labels  # the ruling's files are the new tests
    assert "analyst/amend_spec/T1#2" not in labels

    store = open_store(settings)
    run_id = report["run_id"]
    qa_artifacts = [a for a in store.artifacts(run_id, "qa") if a.task == "T1"]
    assert len(qa_artifacts) == 2  # the rewrite supersedes, the first stays on record
    repo = Repo(Path(report["repo"]))
    committed = repo.git("show", "main:tests/test_calc.py")
    assert committed == calc_tests()["files"][0]["content"].strip()
    assert report["tests"] == {"passed": 2, "failed": 0}
    [dispute] = report["disputes"]
    assert dispute["decision"] == "tests_rewritten" and dispute["task"] == "T1"
    assert report["amendments"] == []
    restored = [e.message for e in store.events(run_id) if e.kind == "restored"]
    assert restored and "tests/test_calc.py" in restored[0]


def test_a_test_that_stands_is_said_to_the_developer(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    dispute = {
        "file": "tests/test_calc.py",
        "test": "test_adds",
        "criterion": "2+3=5",
        "reason": "I think add should subtract, the test is too strict.",
    }
    answers = happy_path() | {
        "manager/plan#1": plan("T1"),
        "developer/implement/T1#1": calc(correct=False),
        "developer/implement/T1#2": calc(correct=False) | {"disputes": [dispute]},
        "qa/rule/T1#2": {"decision": "tests_stand", "reason": "2+3=5 is the criterion."},
        "reviewer/review/T1#2": APPROVE,
        "developer/implement/T1#3": calc(),
        "reviewer/review/T1#3": APPROVE,
    }
    model = script(answers)
    report = start_run(settings, write_brief(tmp_path), model=model, sandbox=sandbox).report
    assert report["status"] == "delivered", report["reason"]
    third = _prompt(model, "developer/implement/T1#3")
    assert "QA's rulings on your disputes" in third and "2+3=5 is the criterion." in third
    assert [d["decision"] for d in report["disputes"]] == ["tests_stand"]
    assert SPEC["title"] in _prompt(model, "qa/rule/T1#2")
