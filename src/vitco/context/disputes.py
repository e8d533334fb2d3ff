"""What the developer is told about QA's tests: that they are QA's, what of its last changeset
was not applied because it wrote them, and QA's rulings on the tests it contested.

Nothing the team wrote is restored silently: the test step applies QA's files over a
changeset's edits of them, and the developer reads so here in its next request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vitco.agents.outputs import Changeset, FileChange
from vitco.context.roles import RunView, Sections
from vitco.context.snapshot import normal, task_changes


def qa_files(rt: RunView, task: str) -> dict[str, FileChange]:
    """QA's test files of ``task`` by path: its tests, superseded path by path by the tests
    a ruling rewrote (as the test step applies them)."""
    _changesets, tests = task_changes(rt.store.artifacts(rt.run_id), task)
    return {normal(f.path): f for f in tests}


def restored(rt: RunView, state: Mapping[str, Any]) -> list[str]:
    """The paths of the task's current changeset that QA's files overrode."""
    if not state.get("changeset"):
        return []
    qa = qa_files(rt, state["task"])
    changeset = Changeset.model_validate(rt.artifact(state["changeset"]))
    return sorted(f.path for f in changeset.files if normal(f.path) in qa)


def dispute_notes(rt: RunView, state: Mapping[str, Any]) -> Sections:
    """The developer's sections about QA's tests (none before QA wrote any)."""
    qa = qa_files(rt, state["task"])
    if not qa:
        return {}
    overridden = restored(rt, state)
    rulings = [
        {k: a.content[k] for k in ("disputes", "decision", "reason")}
        for a in rt.store.artifacts(rt.run_id, "ruling")
        if a.task == state["task"]
    ]
    return {
        "QA's test files": "These files are QA's: your changeset must not write or delete them "
        "(such edits are not applied). If one of their tests contradicts the acceptance "
        "criteria, contest it under 'disputes' (file, test, criterion, reason); QA rules on "
        "it before your change is tested.\n" + "\n".join(f"- {p}" for p in sorted(qa)),
        "Not applied from your last changeset": overridden
        and "You wrote QA's test files "
        + ", ".join(overridden)
        + "; QA's versions were restored and your edits of them were not tested. "
        "Contest a test you think is wrong instead.",
        "QA's rulings on your disputes": rulings or None,
    }
