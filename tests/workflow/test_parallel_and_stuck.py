"""Independent tasks run at once; merge conflicts and stuck failures go back to the developer."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.effects import mail_kinds, mails, plain
from tests.workflow.scripted import (
    APPROVE,
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
from vitco.llm.model import ModelRequest
from vitco.sandbox import Sandbox
from vitco.store import open_store

pytestmark = pytest.mark.slow


def with_complexity(answers: dict[str, Any], complexity: int) -> dict[str, Any]:
    p = answers["manager/plan#1"]
    for t in p["tasks"]:
        t["complexity"] = complexity
    return answers


def test_independent_tasks_run_concurrently(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    answers = happy_path() | {"manager/plan#1": plan("T1", "T2", "T3")}
    for i, t in enumerate(("T1", "T2", "T3"), start=1):
        answers[f"developer/implement/{t}#1"] = calc(module=f"m{i}")
        answers[f"reviewer/review/{t}#1"] = APPROVE
        answers[f"qa/write_tests/{t}#1"] = calc_tests(f"m{i}")
    inner = script(answers)
    in_flight, peak, lock = 0, 0, threading.Lock()

    class Slow:
        id = "test:slow"

        def request(self, request: ModelRequest) -> Any:
            nonlocal in_flight, peak
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            try:
                time.sleep(0.3)
                return inner.request(request)
            finally:
                with lock:
                    in_flight -= 1

    report = start_run(settings, write_brief(tmp_path), model=Slow(), sandbox=sandbox).report
    assert report["status"] == "delivered", report["reason"]
    assert report["commits"] == 3 and report["tests"]["passed"] == 6
    assert peak >= 2  # developers of different tasks were answered at the same time


def test_a_merge_conflict_goes_back_to_the_developer(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    a = "def a():\n    return 'a'\n"
    b = "def b():\n    return 'b'\n"
    test_a = {
        "files": [
            {
                "path": "tests/test_a.py",
                "content": "from shared import a\n\ndef test_a():\n    assert a() == 'a'\n",
            }
        ]
    }
    test_b = {
        "files": [
            {
                "path": "tests/test_b.py",
                "content": "from shared import b\n\ndef test_b():\n    assert b() == 'b'\n",
            }
        ]
    }
    both = changeset(
        {"shared.py": a + "\n\n" + b, "app.py": calc()["files"][1]["content"]}, "Merge a and b"
    )
    answers = happy_path() | {
        "manager/plan#1": plan("T1", "T2"),
        "developer/implement/T1#1": changeset(
            {"shared.py": a, "app.py": calc()["files"][1]["content"]}, "Add a"
        ),
        "developer/implement/T2#1": changeset({"shared.py": b}, "Add b"),
        "reviewer/review/T1#1": APPROVE,
        "reviewer/review/T2#1": APPROVE,
        "qa/write_tests/T1#1": test_a,
        "qa/write_tests/T2#1": test_b,
        "developer/implement/T1#2": both,
        "developer/implement/T2#2": both,
        "reviewer/review/T1#2": APPROVE,
        "reviewer/review/T2#2": APPROVE,
    }
    model = script(answers)
    report = start_run(settings, write_brief(tmp_path), model=model, sandbox=sandbox).report
    assert report["status"] == "delivered", report["reason"]
    retried = [
        r for r in model.requests if r.key.label().endswith("#2") and r.key.role == "developer"
    ]
    assert len(retried) == 1
    assert "conflicted with work merged meanwhile" in retried[0].messages[-1].content
    assert "shared.py" in retried[0].messages[-1].content
    shared = Repo(Path(report["repo"])).git("show", "main:shared.py")
    assert "def a" in shared and "def b" in shared
    assert report["tests"]["passed"] == 2


def test_the_same_failure_twice_escalates_one_tier(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    answers = with_complexity(happy_path(), 3) | {
        "developer/implement/T1#1": calc(correct=False),
        "developer/implement/T1#2": calc(correct=False),
        "developer/implement/T1#3": calc(correct=True),
        "reviewer/review/T1#2": APPROVE,
        "reviewer/review/T1#3": APPROVE,
    }
    model = script(answers)
    report = start_run(settings, write_brief(tmp_path), model=model, sandbox=sandbox).report
    assert report["status"] == "delivered", report["reason"]
    tiers = {r.key.label(): r.tier for r in model.requests if r.key.role == "developer"}
    assert tiers == {
        "developer/implement/T1#1": None,
        "developer/implement/T1#2": None,
        "developer/implement/T1#3": "standard",  # complexity 3 is efficient; one tier up
    }
    events = [
        e.message for e in open_store(settings).events(report["run_id"]) if e.kind == "escalate"
    ]
    assert events == ["T1 is stuck on the same failure; escalating to the standard tier"]


def test_stuck_at_the_top_tier_needs_attention_with_the_evidence(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    answers = with_complexity(happy_path(), 9) | {
        "developer/implement/T1#1": calc(correct=False),
        "developer/implement/T1#2": calc(correct=False),
        "reviewer/review/T1#2": APPROVE,
    }
    model = script(answers)
    report = start_run(settings, write_brief(tmp_path), model=model, sandbox=sandbox).report
    assert report["status"] == "needs_attention"
    assert "stuck at the premium tier" in report["reason"]
    assert report["tasks"][0]["attempts"] == 2  # stopped before a third identical attempt
    store = open_store(settings)
    reports = [a.content for a in store.artifacts(report["run_id"], "test_report")]
    assert len(reports) == 2 and reports[0]["signature"] == reports[1]["signature"]
    # the client is told twice: when T1 is given up, and when the run stops for it
    assert mail_kinds(settings.outbox_dir) == {"accepted": 1, "plan_ready": 1, "needs_attention": 2}
    texts = [plain(m) for m in mails(settings.outbox_dir, kind="needs_attention")]
    assert all("T1: stuck at the premium tier" in t for t in texts), texts
    assert all(str(settings.home) not in t for t in texts)
    # the task's mail offers a resume; the run's (its graph ended at "stuck") says it ended
    assert sorted("has ended and cannot go on" in t for t in texts) == [False, True]
