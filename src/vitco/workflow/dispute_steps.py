"""Disputes: a developer contests QA's tests, QA rules with the spec in hand.

A developer who finds that one of QA's tests demands what the acceptance criteria do not
names it in its changeset (``Changeset.disputes``: file, test, criterion, reason), and
``implement`` ends ``disputed``. Before the change is reviewed and tested, ``rule`` asks QA:

- ``tests_stand`` (outcome ``upheld``): the tests follow the spec; the developer reads the
  ruling in its next prompt;
- ``tests_rewritten`` (``rewritten``): QA's corrected files are a new ``qa`` artifact that
  supersedes the old files path by path, so the worktree holds the new tests;
- ``spec_contradiction`` (``amend``): the criteria contradict each other; ``amend_spec`` has
  the analyst amend the spec (stored, an event, in the report), and QA rewrites its tests
  against it when the flow reaches ``write_tests``.

A dispute happens within an attempt, so disputes are bounded by the task's attempts.
"""

from __future__ import annotations

from typing import Any

from vitco.agents.agent import ask
from vitco.agents.outputs import Changeset, Ruling, Spec
from vitco.agents.role import load_role
from vitco.context.disputes import qa_files
from vitco.context.roles import environment
from vitco.llm.model import CallKey
from vitco.workflow.runtime import Runtime
from vitco.workflow.spec_steps import amend
from vitco.workflow.state import TaskState
from vitco.workflow.steps import step
from vitco.workflow.task_steps import task_context, toolchain_of
from vitco.workspace.paths import safe_path

Update = dict[str, Any]
OUTCOMES = {"tests_stand": "upheld", "tests_rewritten": "rewritten", "spec_contradiction": "amend"}


@step(
    "rule",
    level="task",
    outcomes=("upheld", "rewritten", "amend"),
    role="qa",
    primary=False,
)
def rule(rt: Runtime, state: TaskState) -> Update:
    """QA's ruling on the tests the current changeset contests."""
    task_id, attempt = state["task"], state["attempt"]
    spec, task = task_context(rt, state)
    changeset = Changeset.model_validate(rt.store.get_artifact(state["changeset"]))
    disputes = [d.model_dump() for d in changeset.disputes]
    contract = toolchain_of(rt, state).contract()
    rt.emit("step", f"qa rules on the dispute over {task_id}'s tests", step="rule", task=task_id)
    answer = ask(
        rt.model,
        load_role("qa"),
        Ruling,
        CallKey(role="qa", step="rule", task=task_id, attempt=attempt),
        {
            "Your job now": "The developer contests some of your tests (under 'Disputes'). "
            "Rule on them with the specification in hand and answer a Ruling.",
            "Task": task.model_dump(exclude={"role"}),
            "Specification": spec.model_dump(),
            "Environment": environment(rt, toolchain_of(rt, state)),
            "Your tests": {p: f.model_dump() for p, f in qa_files(rt, task_id).items()},
            "Disputes": disputes,
            "The developer's changeset": changeset.model_dump(exclude={"disputes"}),
        },
        complexity=task.complexity,
        context={"test_paths": contract.test_paths},
    )
    ruling = answer.output
    tree = rt.tree(task_id)
    for change in ruling.files:
        safe_path(tree.path, change.path)
    rt.store.put_artifact(
        rt.run_id,
        "ruling",
        ruling.model_dump() | {"disputes": disputes},
        task=task_id,
        attempt=attempt,
    )
    outcome = OUTCOMES[ruling.decision]
    rt.emit(
        "ruling",
        f"qa rules on {task_id}'s dispute: {ruling.decision.replace('_', ' ')}: {ruling.reason}",
        step="rule",
        task=task_id,
        data={"decision": ruling.decision, "criteria": ruling.criteria},
    )
    update: Update = {"outcome": outcome}
    if ruling.files:  # supersedes QA's earlier files of the same paths
        qa = {"files": [f.model_dump() for f in ruling.files]}
        update["qa"] = rt.store.put_artifact(rt.run_id, "qa", qa, task=task_id, attempt=attempt)
    return update


@step("amend_spec", level="task", role="analyst", primary=False)
def amend_spec(rt: Runtime, state: TaskState) -> Update:
    """The analyst resolves the contradiction QA found; the task goes on with the amended spec
    (and so do the tasks started after it: ``amended`` reaches the run's state)."""
    task_id, attempt = state["task"], state["attempt"]
    rulings = [a for a in rt.store.artifacts(rt.run_id, "ruling") if a.task == task_id]
    ruling = rulings[-1].content
    rt.emit("step", f"analyst amends the spec ({task_id}'s dispute)", step="amend_spec")
    why = {k: ruling[k] for k in ("criteria", "reason", "disputes")}
    answer = ask(
        rt.model,
        load_role("analyst"),
        Spec,
        CallKey(role="analyst", step="amend_spec", task=task_id, attempt=attempt),
        {
            "Your job now": "While building the task below, the team found acceptance criteria "
            "of your specification that contradict each other. Answer the whole specification "
            "again with the contradiction resolved the way the brief intends; keep everything "
            "else as it is.",
            "Brief": rt.store.get_brief(rt.store.get_run(rt.run_id).brief_id).text,
            "Environment": environment(rt),
            "Your specification": rt.store.get_artifact(state["spec"]),
            "Contradicting criteria": ruling["criteria"],
            "QA's finding": ruling["reason"],
            "The developer's dispute": ruling["disputes"],
        },
    )
    return amend(
        rt,
        answer.output,
        by="dispute",
        why=why,
        previous=state["spec"],
        task=task_id,
        attempt=attempt,
    )
