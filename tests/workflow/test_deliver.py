"""The deliver-project workflow on a scripted model: fix loop, attempts limit, review loop."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.workflow.scripted import (
    APPROVE,
    BRIEF,
    calc,
    calc_tests,
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


def test_one_task_project_is_delivered(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    model = script(happy_path())
    outcome = start_run(settings, write_brief(tmp_path), model=model, sandbox=sandbox)
    report = outcome.report
    assert report["status"] == "delivered", report["reason"]
    assert report["tests"] == {"passed": 2, "failed": 0}
    assert report["smoke_ok"] is True
    assert report["commits"] == 1
    assert report["tasks"] == [{"id": "T1", "title": "Task T1", "status": "done", "attempts": 1}]
    repo = Repo(Path(report["repo"]))
    assert repo.head("delivered") == repo.head("main")
    assert repo.git("show", "main:calc.py").strip().endswith("return a + b")
    mail = message_from_bytes(Path(report["mail"]).read_bytes(), policy=policy.default)
    assert mail["To"] == "Grace Hopper <grace@example.com>"
    part = mail.get_body(("plain",))
    assert part is not None
    body = part.get_content()
    assert "delivered" in body
    calls = len(happy_path())
    assert report["cost"]["calls"] == len(model.requests) == calls
    # how to run it (from DevOps' plan), what it cost (the ledger), where the report is
    assert f"Download: /v1/runs/{report['run_id']}/repo" in body and "Start: " in body
    assert str(settings.home) not in body  # no path of vitco's host reaches the client
    assert f"${report['cost']['usd']:.4f} for {calls} model calls" in body
    assert f"vitco report {report['run_id']}" in body
    assert set(report["cost"]["by_role"]) == {
        "analyst",
        "manager",
        "developer",
        "reviewer",
        "qa",
        "devops",
    }
    assert outcome.processes == []  # the app was stopped when the run ended
    assert not repo.task_tree_path(f"{report['run_id']}/T1").exists()  # worktree removed


def test_a_brief_without_a_client_is_delivered_without_a_mail_and_says_so(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    events: list[tuple[str, str]] = []
    brief = write_brief(tmp_path, BRIEF.split("---\n", 2)[2])  # the same, without front matter
    outcome = start_run(
        settings,
        brief,
        model=script(happy_path()),
        sandbox=sandbox,
        on_event=lambda e: events.append((e.kind, e.message)),
    )
    report = outcome.report
    assert report["status"] == "delivered", report["reason"]
    assert report["mail"] is None and list(settings.outbox_dir.iterdir()) == []
    warnings = [message for kind, message in events if kind == "warning"]
    assert any(f"brief {brief}: it names no client" in w for w in warnings)  # at the start
    assert any(w.startswith("no delivery mail: the brief names no client") for w in warnings)
    stored = open_store(settings).events(report["run_id"])
    assert [e.kind for e in stored].count("warning") == 2


def test_failing_tests_go_back_to_the_developer_with_the_output(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    answers = happy_path() | {
        "developer/implement/T1#1": calc(correct=False),
        "developer/implement/T1#2": calc(correct=True),
        "reviewer/review/T1#2": APPROVE,
    }
    model = script(answers)
    report = start_run(settings, write_brief(tmp_path), model=model, sandbox=sandbox).report
    assert report["status"] == "delivered", report["reason"]
    assert report["tasks"][0]["attempts"] == 2
    second = next(r for r in model.requests if r.key.label() == "developer/implement/T1#2")
    prompt = second.messages[-1].content
    assert "The tests failed" in prompt
    assert "assert -1 == 5" in prompt or "test_adds" in prompt
    # QA wrote the tests once; the second attempt had to pass the same tests.
    assert [r.key.label() for r in model.requests].count("qa/write_tests/T1#1") == 1


def test_a_task_that_never_passes_ends_needs_attention(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    answers = (
        happy_path()
        | {f"developer/implement/T1#{n}": calc(correct=False) for n in (1, 2, 3)}
        | {f"reviewer/review/T1#{n}": APPROVE for n in (2, 3)}
    )
    model = script(answers)
    report = start_run(settings, write_brief(tmp_path), model=model, sandbox=sandbox).report
    assert report["status"] == "needs_attention"
    assert "T1" in report["reason"] and "3 attempts exhausted" in report["reason"]
    assert report["tasks"][0] == {
        "id": "T1",
        "title": "Task T1",
        "status": "needs_attention",
        "attempts": 3,
    }
    labels = [r.key.label() for r in model.requests]
    assert labels.count("developer/implement/T1#1") == 1
    assert "developer/implement/T1#4" not in labels
    assert "devops/deploy#1" not in labels  # nothing deployed, nothing mailed
    assert report["mail"] is None and report["commits"] == 0
    store = open_store(settings)
    run = store.get_run(report["run_id"])
    assert run.status == "needs_attention" and run.reason == report["reason"]
    # the report shows the tests that ran (both failed, each attempt), not "0 and 0"
    assert report["test_runs"] == [
        {"task": "T1", "attempt": n, "passed": 0, "failed": 2} for n in (1, 2, 3)
    ]
    assert report["tests"] == {"passed": 0, "failed": 2, "scope": "tasks"}
    # the task's worktree is gone; its branch stays
    repo = Repo(Path(report["repo"]))
    assert not repo.task_tree_path(f"{run.id}/T1").exists()
    assert repo.git("branch", "--list", f"task/{run.id}/T1")


def test_review_changes_are_sent_back_to_the_developer(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    answers = happy_path() | {
        "reviewer/review/T1#1": {"verdict": "request_changes", "reasons": ["name the module calc"]},
        "developer/implement/T1#2": calc(),
        "reviewer/review/T1#2": APPROVE,
    }
    model = script(answers)
    report = start_run(settings, write_brief(tmp_path), model=model, sandbox=sandbox).report
    assert report["status"] == "delivered", report["reason"]
    second = next(r for r in model.requests if r.key.label() == "developer/implement/T1#2")
    assert "name the module calc" in second.messages[-1].content


def test_dependent_tasks_run_in_order_and_each_gets_a_commit(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    answers = happy_path() | {
        "manager/plan#1": plan("T1", "T2", depends={"T2": ["T1"]}),
        "developer/implement/T2#1": calc(module="calc2") | {"message": "Add calc2"},
        "reviewer/review/T2#1": APPROVE,
        "qa/write_tests/T2#1": calc_tests("calc2"),
    }
    model = script(answers)
    report = start_run(settings, write_brief(tmp_path, BRIEF), model=model, sandbox=sandbox).report
    assert report["status"] == "delivered", report["reason"]
    assert report["commits"] == 2 and report["tests"]["passed"] == 4
    labels = [r.key.label() for r in model.requests]
    assert labels.index("qa/write_tests/T1#1") < labels.index("developer/implement/T2#1")
    # T2's developer saw T1's merged code in the repository files
    t2 = model.requests[labels.index("developer/implement/T2#1")]
    assert "calc.py" in t2.messages[-1].content
    log = Repo(Path(report["repo"])).git("log", "--format=%s", "main")
    assert log.splitlines()[:2] == ["Add calc2", "Implement the task"]


def test_an_objection_on_the_last_attempt_goes_into_the_report(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    """The reviewer still objects on the last attempt: the tests run all the same, pass, and
    the task is merged with the objection reported instead of ending needs_attention."""
    objection = {"verdict": "request_changes", "reasons": ["add() lacks type hints"]}
    answers = happy_path() | {
        "reviewer/review/T1#1": objection,
        "developer/implement/T1#2": calc(),
        "reviewer/review/T1#2": objection,
    }
    model = script(answers)
    report = start_run(
        settings.model_copy(update={"max_attempts": 2}),
        write_brief(tmp_path),
        model=model,
        sandbox=sandbox,
    ).report
    assert report["status"] == "delivered", report["reason"]
    assert report["tasks"][0]["status"] == "done" and report["tasks"][0]["attempts"] == 2
    assert report["tests"] == {"passed": 2, "failed": 0}
    assert report["objections"] == [
        {"task": "T1", "attempt": 2, "reasons": ["add() lacks type hints"]}
    ]
    labels = [r.key.label() for r in model.requests]
    assert labels.index("reviewer/review/T1#2") < labels.index("qa/write_tests/T1#1")
    assert "developer/implement/T1#3" not in labels
    # the reviewer knew which attempt it was reading
    review = next(r for r in model.requests if r.key.label() == "reviewer/review/T1#2")
    assert "This is attempt 2 of at most 2. It is the last attempt." in review.messages[-1].content
    events = [(e.kind, e.message) for e in open_store(settings).events(report["run_id"])]
    assert any(k == "objection" and "add() lacks type hints" in m for k, m in events)
