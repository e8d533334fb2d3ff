"""The delivery report: one JSON-ready dict that says what a run delivered and what it cost."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from vitco.integrations.git import RepoError
from vitco.integrations.git.repo import Repo
from vitco.store import Store
from vitco.store.models import Artifact, ModelCall, Project, Run, Task
from vitco.store.rows import detached

_RUN_FIELDS = ("id", "project_id", "status", "reason", "branch", "workflow", "base_sha", "url",
               "started_at", "finished_at")  # fmt: skip
"""What a report reads of its run."""

Stored = dict[str, list[Artifact]]
"""A run's artifacts by kind, in the order they were made (read once per report)."""


def _bucket() -> dict[str, Any]:
    return {"usd": 0.0, "calls": 0, "input_tokens": 0, "output_tokens": 0}


def _add(bucket: dict[str, Any], call: ModelCall) -> None:
    bucket["usd"] += call.cost_usd
    bucket["calls"] += 1
    bucket["input_tokens"] += call.input_tokens
    bucket["output_tokens"] += call.output_tokens


def cost_summary(calls: Iterable[ModelCall]) -> dict[str, Any]:
    """Totals of the ledger rows, and the same split by role and by tier."""
    total = _bucket()
    by_role: dict[str, dict[str, Any]] = {}
    by_tier: dict[str, dict[str, Any]] = {}
    model_s = 0.0
    for call in calls:
        _add(total, call)
        _add(by_role.setdefault(call.role, _bucket()), call)
        _add(by_tier.setdefault(call.tier or "default", _bucket()), call)
        model_s += call.latency_s
    for bucket in (total, *by_role.values(), *by_tier.values()):
        bucket["usd"] = round(bucket["usd"], 6)
    return total | {"by_role": by_role, "by_tier": by_tier, "model_s": round(model_s, 3)}


def test_summary(stored: Stored) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The tests of a run: the whole suite's last run on the branch when there was one
    (``scope: main``), else the last run of each task's tests (``scope: tasks``), so a run
    that failed before integration still shows what ran; and every test run, in order."""
    runs: list[dict[str, Any]] = []
    last_main: dict[str, Any] | None = None
    last_of_task: dict[str, dict[str, Any]] = {}
    for a in stored["test_report"]:
        c = a.content
        row = {"task": a.task, "attempt": a.attempt, "passed": c["passed"]}
        row |= {"failed": c["failed"] + c["errors"]}
        runs.append(row)
        if a.task is None:
            last_main = row
        else:
            last_of_task[a.task] = row
    if last_main is not None:
        return {"passed": last_main["passed"], "failed": last_main["failed"]}, runs
    if not last_of_task:
        return {"passed": 0, "failed": 0}, runs
    rows = last_of_task.values()
    passed, failed = sum(r["passed"] for r in rows), sum(r["failed"] for r in rows)
    return {"passed": passed, "failed": failed, "scope": "tasks"}, runs


def team_record(stored: Stored, tasks: Sequence[Task]) -> dict[str, Any]:
    """How the team reached the result: the critic's spec checks, every amendment of the
    spec, the disputes over tests with QA's rulings, and the reviewer's objections to work
    that was merged because its tests passed on the last attempt."""
    checks = [
        {"round": a.content["round"], "verdict": a.content["verdict"]}
        | {"problems": a.content["problems"]}
        for a in stored["spec_critique"]
    ]
    amendments = [
        {"task": a.task, "by": a.content["by"], "spec": a.content["spec"], "why": a.content["why"]}
        for a in stored["amendment"]
    ]
    disputes = [
        {"task": a.task, "attempt": a.attempt, "disputes": a.content["disputes"]}
        | {"decision": a.content["decision"], "reason": a.content["reason"]}
        for a in stored["ruling"]
    ]
    done = {t.key: t.attempts for t in tasks if t.status == "done"}
    objections = [
        {"task": a.task, "attempt": a.attempt, "reasons": a.content["reasons"]}
        for a in stored["review"]
        if a.task in done
        and a.attempt == done[a.task]
        and a.content["verdict"] == "request_changes"
    ]
    return {
        "spec_checks": checks,
        "amendments": amendments,
        "disputes": disputes,
        "objections": objections,
    }


def build_report(
    store: Store,
    run_id: str,
    *,
    project: Project | None = None,
    ending: Mapping[str, Any] | None = None,
    conn: Connection | None = None,
) -> dict[str, Any]:
    """The report of a run, as stored so far (works for unfinished runs too). ``project``:
    the run's, when the caller has it; ``ending``: run fields about to be stored with the
    report (status, reason, finished_at), read as if they were; ``conn``: read on that
    connection (the one that stores the ending, ``Store.mark_run``)."""
    record = store.run_record(run_id, conn)  # one connection, not a session per table
    run, tasks = record.run, record.tasks
    if ending:
        run = detached(Run, {c: getattr(run, c) for c in _RUN_FIELDS} | dict(ending))
    if project is None or project.id != run.project_id:
        project = store.get_project(run.project_id)
    stored: Stored = defaultdict(list)
    for artifact in record.artifacts:
        stored[artifact.kind].append(artifact)
    repo = Repo(Path(project.repo_path))
    try:  # the team's commits on the run's branch since it started (or forked)
        span = f"{run.base_sha}..{run.branch}" if run.base_sha else run.branch
        commits = repo.commit_count(span) if repo.exists() else 0
    except (RepoError, OSError):  # a repository moved or removed since: the report still reads
        commits = 0
    tests, test_runs = test_summary(stored)
    deployments = stored["deployment"]
    # None until something was deployed: "smoke not ok" would say a check failed
    smoke_ok = bool(deployments[-1].content.get("smoke_ok")) if deployments else None
    delivery = None
    if deployments:
        shipped = deployments[-1].content
        keys = ("kind", "summary", "url", "checks", "artifacts")
        delivery = {k: shipped.get(k) for k in keys} | {"ok": smoke_ok}
    plans = stored["plan"]
    toolchain = plans[-1].content.get("toolchain", "python-service") if plans else None
    mails = stored["mail"]
    duration = None
    if run.started_at and run.finished_at:
        duration = round((run.finished_at - run.started_at).total_seconds(), 3)
    return {
        "status": run.status,
        "reason": run.reason,
        "project_id": project.id,
        "run_id": run.id,
        "repo": project.repo_path,
        "branch": run.branch,
        "workflow": run.workflow,
        "commits": commits,
        "tasks": [
            {"id": t.key, "title": t.title, "status": t.status, "attempts": t.attempts}
            for t in tasks
        ],
        "tests": tests,
        "test_runs": test_runs,
        "toolchain": toolchain,
        "url": run.url,
        "smoke_ok": smoke_ok,
        "delivery": delivery,
        "mail": mails[-1].content["path"] if mails else None,
        **team_record(stored, tasks),
        "cost": cost_summary(record.calls),
        "budget_usd": project.budget_usd,
        "duration_s": duration,
    }


def stored_report(run: Run, fresh: dict[str, Any]) -> dict[str, Any]:
    """The report as the store has it now (``fresh``, from :func:`build_report`), with what only
    the runner knew when the run last stopped (its timings, whether it can be resumed, the fix
    for its cause)."""
    kept = {k: v for k, v in (run.report or {}).items() if k in ("timings", "resumable", "fix")}
    return fresh | kept if run.status not in ("running", "created") else fresh


def run_report(store: Store, run_id: str) -> dict[str, Any]:
    """The report of a run as ``vitco status`` and the API show it (:func:`stored_report`)."""
    return stored_report(store.get_run(run_id), build_report(store, run_id))
