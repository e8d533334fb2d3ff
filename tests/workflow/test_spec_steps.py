"""The spec check before planning: the critic finds a flaw, the analyst fixes it, the manager
plans with the fixed spec; and a critic that is never satisfied does not stop the run."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.workflow.scripted import SOUND, SPEC, happy_path, script, write_brief
from vitco.bootstrap import start_run
from vitco.config import Settings
from vitco.sandbox import Sandbox
from vitco.store import open_store

pytestmark = pytest.mark.slow

BAD_EXAMPLE = "for example, 2+3 answers 6"


def _draft() -> dict[str, Any]:
    """The analyst's first spec: an example that breaks its own rule."""
    draft = copy.deepcopy(SPEC)
    draft["user_stories"][0]["acceptance_criteria"].append(BAD_EXAMPLE)
    return draft


PROBLEM = {
    "kind": "example_breaks_rule",
    "stories": ["S1"],
    "criterion": BAD_EXAMPLE,
    "explanation": "S1 says 2+3=5; the example says 6. Drop the example.",
}
REVISE = {"verdict": "revise", "problems": [PROBLEM]}


def _prompt(model: Any, label: str) -> str:
    request = next(r for r in model.requests if r.key.label() == label)
    return str(request.messages[-1].content)


def test_a_spec_fixed_by_the_critic_before_planning(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    answers = happy_path() | {
        "analyst/analyze#1": _draft(),
        "reviewer/check_spec#1": REVISE,
        "analyst/revise_spec#1": SPEC,
        "reviewer/check_spec#2": SOUND,
    }
    model = script(answers)
    report = start_run(settings, write_brief(tmp_path), model=model, sandbox=sandbox).report
    assert report["status"] == "delivered", report["reason"]

    labels = [r.key.label() for r in model.requests]
    assert labels[:5] == [
        "analyst/analyze#1",
        "reviewer/check_spec#1",
        "analyst/revise_spec#1",
        "reviewer/check_spec#2",
        "manager/plan#1",
    ]
    # the critic saw the brief and the draft, and is asked for a spec check, not a review
    critic = _prompt(model, "reviewer/check_spec#1")
    assert "Add two numbers." in critic and BAD_EXAMPLE in critic
    assert "spec check" in critic
    critic_system = model.requests[1].messages[0].content
    assert "examples that break the spec's own rules" in critic_system
    # the analyst got its spec and the critic's problem with the fix it suggests
    analyst = _prompt(model, "analyst/revise_spec#1")
    assert BAD_EXAMPLE in analyst and "Drop the example." in analyst
    # the second check knows what it asked for
    assert "Problems you found in the previous version" in _prompt(model, "reviewer/check_spec#2")
    # the manager planned with the fixed spec, the developer built with it
    assert BAD_EXAMPLE not in _prompt(model, "manager/plan#1")
    assert "2+3=5" in _prompt(model, "manager/plan#1")
    assert BAD_EXAMPLE not in _prompt(model, "developer/implement/T1#1")

    assert [c["verdict"] for c in report["spec_checks"]] == ["revise", "sound"]
    assert report["spec_checks"][0]["problems"] == [PROBLEM]
    [amendment] = report["amendments"]
    assert amendment["by"] == "critic" and amendment["task"] is None
    assert amendment["why"] == [PROBLEM]
    store = open_store(settings)
    specs = store.artifacts(report["run_id"], "spec")
    assert [s.id for s in specs][-1] == amendment["spec"]
    assert {k: specs[-1].content[k] for k in SPEC} == SPEC  # the fix is what was stored
    kinds = [e.kind for e in store.events(report["run_id"])]
    assert kinds.count("spec_check") == 2 and kinds.count("spec_amended") == 1


def test_a_critic_never_satisfied_does_not_stop_the_run(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    """spec_checks bounds the critic's passes: once spent, the manager plans with the
    latest spec and the critic's last problems stay in the report."""
    answers = happy_path() | {
        "analyst/analyze#1": _draft(),
        "reviewer/check_spec#1": REVISE,
        "analyst/revise_spec#1": _draft(),  # not fixed
        "reviewer/check_spec#2": REVISE,
    }
    model = script(answers)
    report = start_run(
        settings.model_copy(update={"spec_checks": 2}),
        write_brief(tmp_path),
        model=model,
        sandbox=sandbox,
    ).report
    assert report["status"] == "delivered", report["reason"]
    labels = [r.key.label() for r in model.requests]
    assert labels.count("analyst/revise_spec#1") == 1 and "analyst/revise_spec#2" not in labels
    assert labels.index("reviewer/check_spec#2") < labels.index("manager/plan#1")
    assert [c["verdict"] for c in report["spec_checks"]] == ["revise", "revise"]
    assert report["spec_checks"][-1]["problems"] == [PROBLEM]
