"""The steps of one task: implement -> review -> write tests -> test -> commit.

A failed review, failing tests or a merge conflict send the task back to ``implement`` with the
evidence, at most ``max_attempts`` times in all; after that the task ends ``needs_attention``
with the reason. The same failing test output twice in a row means the model is stuck: the next
attempt goes one model tier up, and a task stuck at the top tier gives up with the evidence.
Each step reads what it needs from the store or the task's worktree, and returns ids.
"""

from __future__ import annotations

import hashlib
import time
from functools import lru_cache
from typing import Any, cast

from vitco.agents.agent import ask
from vitco.agents.outputs import Changeset, FileChange, Plan, PlanTask, QaTests, Review, Spec
from vitco.agents.role import load_role
from vitco.llm.model import CallKey, Tier, tier_above, tier_for
from vitco.toolchains import TestReport, Toolchain, get_toolchain
from vitco.workflow.runtime import Runtime
from vitco.workflow.state import TaskState
from vitco.workspace.exceptions import CommitIncomplete, MergeConflict
from vitco.workspace.paths import safe_path
from vitco.workspace.repo import Repo

Update = dict[str, Any]


def failure_signature(report: TestReport) -> str:
    """What identifies a failure: which tests failed and how (not timings or counts)."""
    text = "\n".join(f"{f.test}\n{f.output}" for f in report.failures) or report.output
    return hashlib.sha256(text.encode()).hexdigest()


class TaskSteps:
    """Node functions of the task subgraph, bound to a runtime."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._artifact = lru_cache(maxsize=64)(rt.store.get_artifact)

    def _context(self, state: TaskState) -> tuple[Spec, PlanTask]:
        spec = Spec.model_validate(self._artifact(state["spec"]))
        plan = Plan.model_validate(self._artifact(state["plan"]))
        return spec, plan.task(state["task"])

    def _toolchain(self, state: TaskState) -> Toolchain:
        return get_toolchain(Plan.model_validate(self._artifact(state["plan"])).toolchain)

    def _feedback(self, state: TaskState) -> str | None:
        ref = state.get("feedback")
        if not ref:
            return None
        content = self.rt.store.get_artifact(ref)
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

    def implement(self, state: TaskState) -> Update:
        rt, task_id = self.rt, state["task"]
        attempt = state.get("attempt", 1)
        spec, task = self._context(state)
        tree = rt.tree(task_id)
        rt.store.update_task(rt.run_id, task_id, status="running", attempts=attempt)
        tier = cast(Tier | None, state.get("tier"))
        rt.emit(
            "step",
            f"developer works on {task_id} (attempt {attempt}"
            + (f", {tier} tier)" if tier else ")"),
            step="implement",
            task=task_id,
        )
        stories = [s.model_dump() for s in spec.user_stories if s.id in task.stories]
        answer = ask(
            rt.model,
            load_role("developer"),
            Changeset,
            CallKey(role="developer", step="implement", task=task_id, attempt=attempt),
            {
                "Task": task.model_dump(exclude={"role"}),
                "User stories": stories,
                "Environment": self._toolchain(state).contract().render(),
                "Repository files": tree.read_files(),
                "Previous attempt": self._feedback(state),
            },
            complexity=task.complexity,
            tier=tier,
        )
        for change in answer.output.files:
            safe_path(tree.path, change.path)  # refuse before anything is stored or written
        ref = rt.store.put_artifact(
            rt.run_id, "changeset", answer.output.model_dump(), task=task_id, attempt=attempt
        )
        return {"changeset": ref, "attempt": attempt}

    def review(self, state: TaskState) -> Update:
        rt, task_id, attempt = self.rt, state["task"], state["attempt"]
        _spec, task = self._context(state)
        rt.emit("step", f"reviewer reads {task_id}", step="review", task=task_id)
        answer = ask(
            rt.model,
            load_role("reviewer"),
            Review,
            CallKey(role="reviewer", step="review", task=task_id, attempt=attempt),
            {
                "Task": task.model_dump(exclude={"role"}),
                "Environment": self._toolchain(state).contract().render(),
                "Changeset": rt.store.get_artifact(state["changeset"]),
            },
            complexity=task.complexity,
        )
        ref = rt.store.put_artifact(
            rt.run_id, "review", answer.output.model_dump(), task=task_id, attempt=attempt
        )
        if answer.output.verdict == "approve":
            return {"review": ref, "outcome": "approved"}
        return self._retry_or_give_up(state, ref, "review: " + "; ".join(answer.output.reasons))

    def write_tests(self, state: TaskState) -> Update:
        if state.get("qa"):
            return {}  # the task's tests are written once; later attempts must pass the same
        rt, task_id = self.rt, state["task"]
        spec, task = self._context(state)
        rt.emit("step", f"qa writes tests for {task_id}", step="write_tests", task=task_id)
        stories = [s.model_dump() for s in spec.user_stories if s.id in task.stories]
        contract = self._toolchain(state).contract()
        answer = ask(
            rt.model,
            load_role("qa"),
            QaTests,
            CallKey(role="qa", step="write_tests", task=task_id, attempt=1),
            {
                "Task": task.model_dump(exclude={"role"}),
                "User stories": stories,
                "Environment": contract.render(),
                "Changeset under test": rt.store.get_artifact(state["changeset"]),
            },
            complexity=task.complexity,
            context={"test_paths": contract.test_paths},
        )
        tree = rt.tree(task_id)
        for change in answer.output.files:
            safe_path(tree.path, change.path)
        ref = rt.store.put_artifact(rt.run_id, "qa", answer.output.model_dump(), task=task_id)
        return {"qa": ref}

    def _materialize(self, state: TaskState) -> tuple[Repo, list[str]]:
        """The task's worktree rebuilt from the store: the branch, then every changeset since
        the last merge conflict in order, then QA's tests. Whatever an earlier test run left
        there (files, a nested repository, edits to the sources) is gone, so what is tested
        and committed is exactly what the developer and QA wrote. Returns the tree and the
        paths written."""
        rt, task_id = self.rt, state["task"]
        test_paths = {"test_paths": self._toolchain(state).contract().test_paths}
        tree = rt.tree(task_id)
        tree.clean()
        changesets: list[list[FileChange]] = []
        tests: list[FileChange] = []
        for a in rt.store.artifacts(rt.run_id):
            if a.task != task_id:
                continue
            if a.kind == "merge_conflict":
                changesets.clear()  # the work starts over on top of what was merged
            elif a.kind == "changeset":
                changesets.append(Changeset.model_validate(a.content).files)
            elif a.kind == "qa":
                tests = QaTests.model_validate(a.content, context=test_paths).files
        paths: list[str] = []
        for files in [*changesets, tests]:
            paths += tree.apply(files)
        return tree, sorted(set(paths))

    def test(self, state: TaskState) -> Update:
        rt, task_id, attempt = self.rt, state["task"], state["attempt"]
        tree, _paths = self._materialize(state)
        rt.fault("mid-task")
        rt.emit("step", f"running {task_id}'s tests in the sandbox", step="test", task=task_id)
        began = time.monotonic()
        report = self._toolchain(state).test(rt.tools, tree.path)
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
        update = self._retry_or_give_up(state, ref, "tests: " + report.summary())
        update["report"] = ref
        return update | self._escalation(state, report, update)

    def commit(self, state: TaskState) -> Update:
        rt, task_id = self.rt, state["task"]
        changeset = Changeset.model_validate(rt.store.get_artifact(state["changeset"]))
        key = f"{rt.run_id}/{task_id}"
        tree = rt.tree(task_id)
        if tree.find_commit(key) is None:
            tree, paths = self._materialize(state)
            tree.commit(changeset.message, key=key, paths=paths)
            written = {f.path for f in changeset.files if f.action == "write"} & set(paths)
            lost = tree.missing(written)
            if lost:  # git skipped them: never mark a task done with its code missing
                raise CommitIncomplete(task_id, lost)
        rt.fault("after-commit")
        try:
            sha = rt.repo.integrate(f"{rt.run_id}/{task_id}", into=rt.base)
        except MergeConflict as conflict:
            tree.reset_to(rt.branch)  # start over from the work merged meanwhile
            ref = rt.store.put_artifact(
                rt.run_id,
                "merge_conflict",
                {"kind": "merge_conflict", "files": conflict.files},
                task=task_id,
                attempt=state["attempt"],
            )
            return self._retry_or_give_up(state, ref, f"merge conflict in {conflict.files}")
        rt.store.update_task(rt.run_id, task_id, status="done", commit_sha=sha)
        rt.repo.remove_worktree(f"{rt.run_id}/{task_id}")  # merged: its branch keeps the work
        rt.emit(
            "commit",
            f"{task_id} merged into {rt.branch} at {sha[:10]}",
            step="commit",
            task=task_id,
        )
        return {"done": [task_id], "outcome": "merged"}

    def give_up(self, state: TaskState) -> Update:
        rt, task_id = self.rt, state["task"]
        reason = state.get("reason", "gave up")
        rt.store.update_task(rt.run_id, task_id, status="needs_attention", reason=reason)
        rt.emit("needs_attention", f"{task_id}: {reason}", step="give_up", task=task_id)
        return {"blocked": [task_id]}

    # decisions --------------------------------------------------------------------------------

    def _retry_or_give_up(self, state: TaskState, evidence: str, reason: str) -> Update:
        attempt = state["attempt"]
        if attempt < self.rt.settings.max_attempts:
            self.rt.emit(
                "retry", f"{state['task']} back to the developer: {reason}", task=state["task"]
            )
            return {"feedback": evidence, "attempt": attempt + 1, "outcome": "retry"}
        why = f"{attempt} attempts exhausted; last {reason}"
        return {"feedback": evidence, "outcome": "give_up", "reason": why}

    def _escalation(self, state: TaskState, report: TestReport, update: Update) -> Update:
        """Same failure as the previous attempt: go one tier up, or give up at the top."""
        previous = state.get("report")
        if not previous or update["outcome"] != "retry":
            return {}
        if self.rt.store.get_artifact(previous).get("signature") != failure_signature(report):
            return {}
        _spec, task = self._context(state)
        current = cast(Tier, state.get("tier") or tier_for(task.complexity))
        stronger = tier_above(current)
        if stronger is None:
            why = (
                f"stuck at the {current} tier: the same tests failed the same way twice "
                f"({report.summary()})"
            )
            return {"outcome": "give_up", "reason": why, "attempt": state["attempt"]}
        self.rt.emit(
            "escalate",
            f"{state['task']} is stuck on the same failure; escalating to the {stronger} tier",
            task=state["task"],
        )
        return {"tier": stronger}

    @staticmethod
    def after_review(state: TaskState) -> str:
        return {"approved": "write_tests", "retry": "implement"}.get(state["outcome"], "give_up")

    @staticmethod
    def after_test(state: TaskState) -> str:
        return {"pass": "commit", "retry": "implement"}.get(state["outcome"], "give_up")

    @staticmethod
    def after_commit(state: TaskState) -> str:
        return {"merged": "end", "retry": "implement"}.get(state["outcome"], "give_up")
