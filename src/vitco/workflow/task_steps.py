"""The steps of one task: implement -> review -> write tests -> test -> commit.

A failed review, failing tests or a merge conflict send the task back to ``implement`` with the
evidence; how many attempts a task gets is the ``max`` of the template's loop edges into
``implement`` (``max_attempts``), counted by the compiled graph, after which the task ends
``needs_attention`` with the last reason. A review that asks for changes on the last attempt
does not end the task: the template's ``exhausted: write_tests`` runs its tests all the same,
and when they pass the task is merged with the reviewer's objection in the report.

QA owns its test files. A developer who thinks a test is wrong contests it in its changeset
(``disputes``) and QA rules on it first (``dispute_steps``); edits of QA's files in a changeset
are not applied, and the developer is told so in its next prompt, never silently.

The same failing test output twice in a row means the model is stuck: the next attempt goes one
model tier up, and a task stuck at the top tier gives up with the evidence. Each step reads
what it needs from the store or the task's worktree, and returns ids.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, cast

from vitco import context
from vitco.agents.agent import ask
from vitco.agents.outputs import Changeset, Plan, PlanTask, QaTests, Review, Spec
from vitco.agents.role import load_role
from vitco.context.snapshot import task_changes
from vitco.integrations.git.exceptions import CommitIncomplete, MergeConflict
from vitco.integrations.git.repo import Repo
from vitco.llm.model import CallKey, Tier, tier_above, tier_for
from vitco.toolchains import TestReport, Toolchain, get_toolchain
from vitco.workflow import notices
from vitco.workflow.publish import landing, prepare_base, publish_task
from vitco.workflow.runtime import Runtime
from vitco.workflow.state import TaskState
from vitco.workflow.steps import step
from vitco.workspace.paths import safe_path

Update = dict[str, Any]


def failure_signature(report: TestReport) -> str:
    """What identifies a failure: which tests failed and how (not timings or counts)."""
    text = "\n".join(f"{f.test}\n{f.output}" for f in report.failures) or report.output
    return hashlib.sha256(text.encode()).hexdigest()


def task_context(rt: Runtime, state: TaskState) -> tuple[Spec, PlanTask]:
    """The spec the task works with (amended ones included) and its entry in the plan."""
    spec = Spec.model_validate(rt.artifact(state["spec"]))
    plan = Plan.model_validate(rt.artifact(state["plan"]))
    return spec, plan.task(state["task"])


def toolchain_of(rt: Runtime, state: TaskState) -> Toolchain:
    """The toolchain the plan chose."""
    return get_toolchain(Plan.model_validate(rt.artifact(state["plan"])).toolchain)


def _feedback(rt: Runtime, state: TaskState) -> str | None:
    ref = state.get("feedback")
    if not ref:
        return None
    content = rt.store.get_artifact(ref)
    if "verdict" in content:
        review = Review.model_validate(content)
        return "The reviewer requested changes:\n" + "\n".join(f"- {r}" for r in review.reasons)
    if content.get("kind") == "merge_conflict":
        return (
            "Your change conflicted with work merged meanwhile, in: "
            + ", ".join(content["files"])
            + ". The repository files above are the current state; redo the change on top."
        )
    return "The tests failed:\n" + TestReport.model_validate(content).feedback()


# nodes ------------------------------------------------------------------------------------


@step("implement", level="task", outcomes=("done", "disputed"), role="developer")
def implement(rt: Runtime, state: TaskState) -> Update:
    """The developer's change (attempts counted here, from the state); ``disputed`` when it
    contests QA's tests, which QA then rules on before anything is tested."""
    task_id = state["task"]
    attempt = state.get("attempt", 0) + 1
    _spec, task = task_context(rt, state)
    tree = rt.tree(task_id)
    rt.store.update_task(rt.run_id, task_id, status="running", attempts=attempt)
    tier = cast(Tier | None, state.get("tier"))
    rt.emit(
        "step",
        f"developer works on {task_id} (attempt {attempt}" + (f", {tier} tier)" if tier else ")"),
        step="implement",
        task=task_id,
    )
    view = context.task_view(rt, task_id)  # one view for the prompt and the tools
    changeset = context.develop(
        rt.model,
        load_role("developer"),
        CallKey(role="developer", step="implement", task=task_id, attempt=attempt),
        context.developer(rt, {**state, "attempt": attempt}, _feedback(rt, state), view)
        | context.dispute_notes(rt, state),
        view,
        complexity=task.complexity,
        tier=tier,
    )
    for change in changeset.files:
        safe_path(tree.path, change.path)  # refuse before anything is stored or written
    ref = rt.store.put_artifact(
        rt.run_id, "changeset", changeset.model_dump(), task=task_id, attempt=attempt
    )
    update: Update = {"changeset": ref, "attempt": attempt, "outcome": "done"}
    disputes = changeset.disputes
    if disputes and state.get("qa"):
        tests = ", ".join(f"{d.file}::{d.test}" for d in disputes)
        rt.emit("dispute", f"developer contests {task_id}'s tests: {tests}", task=task_id)
        update["outcome"] = "disputed"
    elif disputes:
        rt.emit("dispute", f"{task_id}: nothing to contest yet (QA has no tests)", task=task_id)
    return update


@step("review", level="task", outcomes=("approved", "retry", "give_up"), role="reviewer")
def review(rt: Runtime, state: TaskState) -> Update:
    """``retry`` on requested changes; on the last attempt the template runs the tests anyway
    (``exhausted: write_tests``) and the objection is reported, not fatal."""
    task_id, attempt = state["task"], state["attempt"]
    _spec, task = task_context(rt, state)
    rt.emit("step", f"reviewer reads {task_id}", step="review", task=task_id)
    answer = ask(
        rt.model,
        load_role("reviewer"),
        Review,
        CallKey(role="reviewer", step="review", task=task_id, attempt=attempt),
        context.reviewer(rt, state),
        complexity=task.complexity,
    )
    ref = rt.store.put_artifact(
        rt.run_id, "review", answer.output.model_dump(), task=task_id, attempt=attempt
    )
    if answer.output.verdict == "approve":
        return {"review": ref, "outcome": "approved"}
    reasons = "; ".join(answer.output.reasons)
    rt.emit("review", f"reviewer requests changes on {task_id}: {reasons}", task=task_id)
    return _retry(rt, state, ref, "review: " + reasons, announce=False) | {"review": ref}


@step("write_tests", level="task", role="qa")
def write_tests(rt: Runtime, state: TaskState) -> Update:
    """QA's tests, written once per task, and again against an amended spec (``qa_spec``)."""
    task_id = state["task"]
    if state.get("review") and rt.store.get_artifact(state["review"])["verdict"] != "approve":
        rt.emit(
            "objection",
            f"the reviewer objects to {task_id} on its last attempt; its tests decide: "
            + state.get("reason", ""),
            step="write_tests",
            task=task_id,
        )
    if state.get("qa") and state.get("qa_spec", state["spec"]) == state["spec"]:
        return {}  # later attempts must pass the same tests
    _spec, task = task_context(rt, state)
    rewrite = bool(state.get("qa"))
    what = "rewrites its tests against the amended spec" if rewrite else "writes tests"
    rt.emit("step", f"qa {what} for {task_id}", step="write_tests", task=task_id)
    contract = toolchain_of(rt, state).contract()
    answer = ask(
        rt.model,
        load_role("qa"),
        QaTests,
        # the first tests are #1 whatever the attempt; a rewrite is numbered by its attempt
        CallKey(
            role="qa", step="write_tests", task=task_id, attempt=state["attempt"] if rewrite else 1
        ),
        context.qa(rt, state)
        | {
            "Your tests so far": rewrite and sorted(context.qa_files(rt, task_id)),
            "Why again": rewrite
            and "The analyst amended the acceptance criteria (the user stories above are the "
            "amended ones). Rewrite every test of yours the amendment affects: give each such "
            "file in full, or delete it; files you leave out stay as they are.",
        },
        complexity=task.complexity,
        context={"test_paths": contract.test_paths},
    )
    tree = rt.tree(task_id)
    for change in answer.output.files:
        safe_path(tree.path, change.path)
    ref = rt.store.put_artifact(
        rt.run_id, "qa", answer.output.model_dump(), task=task_id, attempt=state["attempt"]
    )
    return {"qa": ref, "qa_spec": state["spec"]}


def _materialize(rt: Runtime, state: TaskState) -> tuple[Repo, list[str]]:
    """The task's worktree rebuilt from the store: the branch, then every changeset since
    the last merge conflict in order, then QA's tests (which win over a changeset's edits of
    them: the developer contests a test, it does not rewrite it). Whatever an earlier test
    run left there (files, a nested repository, edits to the sources) is gone, so what is
    tested and committed is exactly what the developer and QA wrote. Returns the tree and
    the paths written."""
    task_id = state["task"]
    tree = rt.tree(task_id)
    tree.clean()
    changesets, tests = task_changes(rt.store.artifacts(rt.run_id), task_id)
    paths: list[str] = []
    for files in [*changesets, tests]:
        paths += tree.apply(files)
    return tree, sorted(set(paths))


@step("test", level="task", outcomes=("pass", "retry", "give_up"))
def test(rt: Runtime, state: TaskState) -> Update:
    task_id, attempt = state["task"], state["attempt"]
    tree, _paths = _materialize(rt, state)
    restored = context.restored(rt, state)
    if restored:
        rt.emit(
            "restored",
            f"{task_id}: the developer's edits of QA's files {', '.join(restored)} are not "
            "tested; QA's versions are (the developer is told)",
            step="test",
            task=task_id,
        )
    rt.fault("mid-task")
    rt.emit("step", f"running {task_id}'s tests in the sandbox", step="test", task=task_id)
    began = time.monotonic()
    report = toolchain_of(rt, state).test(rt.tools, tree.path)
    if report.limit_hit == "disk":  # nothing of what it wrote stays on the host's disk
        tree.clean(keep=None)
    rt.add_time("tests", time.monotonic() - began)
    ref = rt.store.put_artifact(
        rt.run_id,
        "test_report",
        report.model_dump() | {"signature": failure_signature(report)},
        task=task_id,
        attempt=attempt,
    )
    rt.emit(
        "tests",
        f"{task_id} attempt {attempt}: {report.summary()}",
        step="test",
        task=task_id,
        data={"passed": report.passed, "failed": report.failed, "errors": report.errors},
    )
    if report.ok:
        return {"report": ref, "outcome": "pass"}
    update = _retry(rt, state, ref, "tests: " + report.summary())
    update["report"] = ref
    return update | _escalation(rt, state, report, update)


@step("commit", level="task", outcomes=("merged", "retry", "give_up"))
def commit(rt: Runtime, state: TaskState) -> Update:
    task_id = state["task"]
    changeset = Changeset.model_validate(rt.store.get_artifact(state["changeset"]))
    key = f"{rt.run_id}/{task_id}"
    tree = rt.tree(task_id)
    if tree.find_commit(key) is None:
        tree, paths = _materialize(rt, state)
        tree.record(changeset.message, key=key, paths=paths)  # just looked: not there
        written = {f.path for f in changeset.files if f.action == "write"} & set(paths)
        lost = tree.missing(written)
        if lost:  # git skipped them: never mark a task done with its code missing
            raise CommitIncomplete(task_id, lost)
    rt.fault("after-commit")
    try:
        with landing(rt):
            prepare_base(rt)
            sha = rt.repo.integrate(f"{rt.run_id}/{task_id}", into=rt.base)
            publish_task(rt, dict(state), task_context(rt, state)[1].title, sha)
    except MergeConflict as conflict:
        tree.reset_to(rt.branch)  # start over from the work merged meanwhile
        ref = rt.store.put_artifact(
            rt.run_id,
            "merge_conflict",
            {"kind": "merge_conflict", "files": conflict.files},
            task=task_id,
            attempt=state["attempt"],
        )
        return _retry(rt, state, ref, f"merge conflict in {conflict.files}")
    rt.store.update_task(rt.run_id, task_id, status="done", commit_sha=sha)
    rt.repo.remove_worktree(f"{rt.run_id}/{task_id}")  # merged: its branch keeps the work
    rt.emit(
        "commit",
        f"{task_id} merged into {rt.branch} at {sha[:10]}",
        step="commit",
        task=task_id,
    )
    return {"done": [task_id], "outcome": "merged"}


@step("give_up", level="task")
def give_up(rt: Runtime, state: TaskState) -> Update:
    task_id = state["task"]
    reason = state.get("reason", "gave up")
    rt.store.update_task(rt.run_id, task_id, status="needs_attention", reason=reason)
    rt.emit("needs_attention", f"{task_id}: {reason}", step="give_up", task=task_id)
    notices.task_given_up(rt, task_id, reason)
    return {"blocked": [task_id]}


# decisions --------------------------------------------------------------------------------


def _retry(
    rt: Runtime, state: TaskState, evidence: str, reason: str, *, announce: bool = True
) -> Update:
    """Back to the developer with the evidence. How many attempts a task gets is the
    template's business (the ``max`` of its loop edges), so it is counted in one place;
    ``implement`` numbers the next attempt."""
    if announce:
        rt.emit("retry", f"{state['task']} back to the developer: {reason}", task=state["task"])
    return {"feedback": evidence, "outcome": "retry", "reason": reason}


def _last_tier(rt: Runtime, task_id: str) -> Tier | None:
    """The tier that answered the task's last developer call, from the ledger."""
    calls = rt.store.calls(run_id=rt.run_id)
    tiers = [c.tier for c in calls if c.role == "developer" and c.task == task_id and c.tier]
    return cast(Tier, tiers[-1]) if tiers else None


def _escalation(rt: Runtime, state: TaskState, report: TestReport, update: Update) -> Update:
    """Same failure as the previous attempt: go one tier up, or give up at the top."""
    previous = state.get("report")
    if not previous or update["outcome"] != "retry":
        return {}
    if rt.store.get_artifact(previous).get("signature") != failure_signature(report):
        return {}
    _spec, task = task_context(rt, state)
    # the tier that really answered (the router's configurable policy chose it), so an
    # escalation only ever goes up; a model without tiers falls back to the default rule
    current = cast(
        Tier, state.get("tier") or _last_tier(rt, state["task"]) or tier_for(task.complexity)
    )
    stronger = tier_above(current)
    if stronger is None:
        why = (
            f"stuck at the {current} tier: the same tests failed the same way twice "
            f"({report.summary()})"
        )
        return {"outcome": "give_up", "reason": why}
    rt.emit(
        "escalate",
        f"{state['task']} is stuck on the same failure; escalating to the {stronger} tier",
        task=state["task"],
    )
    return {"tier": stronger}
