"""The steps of one task: implement -> review -> write tests -> test -> commit.

A failed review or failing tests send the task back to ``implement`` with the evidence, at most
``max_attempts`` times in all; after that the task ends ``needs_attention`` with the reason.
Each step reads what it needs from the store or the task's worktree, and returns ids.
"""

from __future__ import annotations

import time
from typing import Any

from vitco.agents.agent import ask
from vitco.agents.outputs import Changeset, Plan, QaTests, Review, Spec
from vitco.agents.role import load_role
from vitco.llm.model import CallKey
from vitco.workflow.runtime import Runtime
from vitco.workflow.state import TaskState
from vitco.workspace.paths import safe_path
from vitco.workspace.testrunner import TestReport, run_tests

Update = dict[str, Any]


class TaskSteps:
    """Node functions of the task subgraph, bound to a runtime."""

    def __init__(self, rt: Runtime, plan_of: Any) -> None:
        self.rt = rt
        self._plan_of = plan_of  # run_id -> (Spec, Plan)

    def _context(self, state: TaskState) -> tuple[Spec, Plan, Any]:
        spec, plan = self._plan_of(state["run_id"])
        return spec, plan, plan.task(state["task"])

    def _feedback(self, state: TaskState) -> str | None:
        ref = state.get("feedback")
        if not ref:
            return None
        content = self.rt.store.get_artifact(ref)
        if "verdict" in content:
            review = Review.model_validate(content)
            return "The reviewer requested changes:\n" + "\n".join(f"- {r}" for r in review.reasons)
        report = TestReport.model_validate(content)
        return "The tests failed:\n" + report.feedback()

    # nodes ------------------------------------------------------------------------------------

    def implement(self, state: TaskState) -> Update:
        rt, task_id = self.rt, state["task"]
        attempt = state.get("attempt", 1)
        spec, _plan, task = self._context(state)
        tree = rt.repo.worktree(task_id)
        rt.store.update_task(rt.run_id, task_id, status="running", attempts=attempt)
        rt.emit(
            "step",
            f"developer works on {task_id} (attempt {attempt})",
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
                "Repository files": tree.read_files(),
                "Previous attempt": self._feedback(state),
            },
            complexity=task.complexity,
        )
        for change in answer.output.files:
            safe_path(tree.path, change.path)  # refuse before anything is stored or written
        ref = rt.store.put_artifact(
            rt.run_id, "changeset", answer.output.model_dump(), task=task_id, attempt=attempt
        )
        return {"changeset": ref, "attempt": attempt}

    def review(self, state: TaskState) -> Update:
        rt, task_id, attempt = self.rt, state["task"], state["attempt"]
        _spec, _plan, task = self._context(state)
        rt.emit("step", f"reviewer reads {task_id}", step="review", task=task_id)
        answer = ask(
            rt.model,
            load_role("reviewer"),
            Review,
            CallKey(role="reviewer", step="review", task=task_id, attempt=attempt),
            {
                "Task": task.model_dump(exclude={"role"}),
                "Changeset": rt.store.get_artifact(state["changeset"]),
            },
            complexity=task.complexity,
        )
        ref = rt.store.put_artifact(
            rt.run_id, "review", answer.output.model_dump(), task=task_id, attempt=attempt
        )
        if answer.output.verdict == "approve":
            return {"review": ref, "outcome": "approved"}
        reason = "review: " + "; ".join(answer.output.reasons)
        return self._retry_or_give_up(state, ref, reason)

    def write_tests(self, state: TaskState) -> Update:
        if state.get("qa"):
            return {}  # the task's tests are written once; later attempts must pass the same
        rt, task_id = self.rt, state["task"]
        spec, _plan, task = self._context(state)
        rt.emit("step", f"qa writes tests for {task_id}", step="write_tests", task=task_id)
        stories = [s.model_dump() for s in spec.user_stories if s.id in task.stories]
        answer = ask(
            rt.model,
            load_role("qa"),
            QaTests,
            CallKey(role="qa", step="write_tests", task=task_id, attempt=1),
            {
                "Task": task.model_dump(exclude={"role"}),
                "User stories": stories,
                "Changeset under test": rt.store.get_artifact(state["changeset"]),
            },
            complexity=task.complexity,
        )
        tree = rt.repo.worktree(task_id)
        for change in answer.output.files:
            safe_path(tree.path, change.path)
        ref = rt.store.put_artifact(rt.run_id, "qa", answer.output.model_dump(), task=task_id)
        return {"qa": ref}

    def test(self, state: TaskState) -> Update:
        rt, task_id, attempt = self.rt, state["task"], state["attempt"]
        tree = rt.repo.worktree(task_id)
        tree.apply(Changeset.model_validate(rt.store.get_artifact(state["changeset"])).files)
        tree.apply(QaTests.model_validate(rt.store.get_artifact(state["qa"])).files)
        rt.emit("step", f"running {task_id}'s tests in the sandbox", step="test", task=task_id)
        began = time.monotonic()
        report = run_tests(rt.sandbox, tree.path)
        rt.add_time("tests", time.monotonic() - began)
        ref = rt.store.put_artifact(
            rt.run_id, "test_report", report.model_dump(), task=task_id, attempt=attempt
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
        return self._retry_or_give_up(state, ref, "tests: " + report.summary())

    def commit(self, state: TaskState) -> Update:
        rt, task_id = self.rt, state["task"]
        changeset = Changeset.model_validate(rt.store.get_artifact(state["changeset"]))
        tree = rt.repo.worktree(task_id)
        paths = {
            f["path"]
            for a in rt.store.artifacts(rt.run_id)
            if a.task == task_id and a.kind in ("changeset", "qa")
            for f in a.content["files"]
        }
        tree.commit(changeset.message, key=f"{rt.run_id}/{task_id}", paths=sorted(paths))
        sha = rt.repo.integrate(task_id)
        rt.store.update_task(rt.run_id, task_id, status="done", commit_sha=sha)
        rt.emit("commit", f"{task_id} merged into main at {sha[:10]}", step="commit", task=task_id)
        return {"done": [task_id]}

    def give_up(self, state: TaskState) -> Update:
        rt, task_id = self.rt, state["task"]
        reason = state.get("reason", "gave up")
        rt.store.update_task(rt.run_id, task_id, status="needs_attention", reason=reason)
        rt.emit("needs_attention", f"{task_id}: {reason}", step="give_up", task=task_id)
        return {"blocked": [task_id]}

    # routing ----------------------------------------------------------------------------------

    def _retry_or_give_up(self, state: TaskState, evidence: str, reason: str) -> Update:
        attempt = state["attempt"]
        if attempt < self.rt.settings.max_attempts:
            self.rt.emit(
                "retry", f"{state['task']} back to the developer: {reason}", task=state["task"]
            )
            return {"feedback": evidence, "attempt": attempt + 1, "outcome": "retry"}
        why = f"{attempt} attempts exhausted; last {reason}"
        return {"feedback": evidence, "outcome": "give_up", "reason": why}

    @staticmethod
    def after_review(state: TaskState) -> str:
        return {"approved": "write_tests", "retry": "implement"}.get(state["outcome"], "give_up")

    @staticmethod
    def after_test(state: TaskState) -> str:
        return {"pass": "commit", "retry": "implement"}.get(state["outcome"], "give_up")
