"""Starting and executing runs.

``start`` checks the brief and the model before storing anything, creates the project (a git
repository under the data dir), the brief and the run, then ``execute`` drives the graph with
the SQLite checkpointer. Errors the platform knows (a model that cannot answer, an answer that
never validates, an unsafe changeset, an app that never becomes healthy) end the run
``needs_attention`` with the reason stored; anything else ends it ``failed``. Either way the
run's state stays in the store and the checkpoint, resumable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import formataddr
from pathlib import Path
from typing import Any, cast

from langgraph.types import Command
from sqlalchemy import Connection

from vitco.agents.exceptions import AgentError
from vitco.config import Settings
from vitco.integrations.deploy.exceptions import DeployError
from vitco.integrations.git import RepoError
from vitco.integrations.git.repo import Repo
from vitco.integrations.payments import PaymentError
from vitco.leases import Held
from vitco.llm.exceptions import BudgetExceeded, LLMError
from vitco.llm.model import Model, public_id
from vitco.sandbox.exceptions import SandboxError
from vitco.sandbox.protocol import Process
from vitco.store import FenceRefused, Store
from vitco.store.models import Event, Project, Run, new_id, utcnow
from vitco.store.repo import DEFAULT_TENANT, TERMINAL, NewRun, ProjectRows
from vitco.toolchains import ToolchainError
from vitco.workflow import notices, outages, stop
from vitco.workflow.answers import pending_answer
from vitco.workflow.brief import BriefText, load_brief
from vitco.workflow.checkpoints import give_back_within, open_checkpointer, run_config, run_lock
from vitco.workflow.exceptions import (
    BadRepo,
    DependencyUnavailable,
    LeaseLost,
    NothingToResume,
    RepoRequired,
    TemplateInvalid,
)
from vitco.workflow.graph import DEFAULT_WORKFLOW, build_graph
from vitco.workflow.project_steps import restart_app
from vitco.workflow.report import build_report
from vitco.workflow.runtime import EventSink, Runtime, without_home
from vitco.workflow.services import Services
from vitco.workflow.template import find as find_template
from vitco.workflow.template import load as load_template
from vitco.workflow.validate import validate as validate_template
from vitco.workspace.exceptions import WorkspaceError

# What a run can meet that is not vitco's own defect: the run stops needs_attention with it.
ATTENTION = (
    DependencyUnavailable,
    LLMError,
    AgentError,
    WorkspaceError,
    RepoError,
    DeployError,
    ToolchainError,
    SandboxError,
    PaymentError,  # a payment service that refused (a wrong key, an amount it will not bill)
)


@dataclass
class Outcome:
    """A finished (or stopped) run: its report and the processes it left running."""

    report: dict[str, Any]
    processes: list[Process] = field(default_factory=list)

    def stop(self) -> None:
        for process in self.processes:
            process.stop()
        self.processes.clear()


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "project"


def start(
    services: Services,
    brief_path: Path,
    *,
    model_id: str | None = None,
    model: Model | None = None,
    on_event: EventSink | None = None,
    keep_running: bool = False,
    workflow: str = DEFAULT_WORKFLOW,
    repo: Path | None = None,
) -> Outcome:
    """Deliver what a brief asks for with ``workflow`` (on a copy of ``repo`` when given, for
    add-feature and fix-bug); see the module docstring for what can go wrong."""
    settings = services.settings
    brief = load_brief(brief_path)
    check_workflow(settings, workflow, repo)
    if repo is not None and not (repo / ".git").exists():
        raise BadRepo(str(repo), "is not a git repository")
    model = model or services.models(model_id or settings.model)
    store = services.store
    run_id = create_run(store, settings, brief, model.id, workflow=workflow, source=repo)
    return execute(
        services,
        run_id,
        model=model,
        on_event=on_event,
        keep_running=keep_running,
        inputs={"run_id": run_id},
        warnings=[f"brief {brief.source}: {warning}" for warning in brief.warnings],
    )


def check_workflow(settings: Settings, workflow: str, repo: Path | None = None) -> None:
    """Refuse an unknown or invalid template, or one that changes an existing repository
    (``needs_repo``) without ``repo``, before anything is stored."""
    path = find_template(workflow, settings.home)
    st = path.stat()  # the file's identity and version, without resolving its path (~0.1 ms)
    key = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size, str(settings.home))
    checked = _CHECKED.get(key)
    if checked is None:  # a file not checked yet in this version: read and validate it
        template, lines, file = load_template(workflow, settings.home)
        problems = validate_template(template, lines, file)
        if problems:
            raise TemplateInvalid(problems)
        checked = _CHECKED[key] = (template.name, template.needs_repo)
    name, needs_repo = checked
    if needs_repo and repo is None:
        raise RepoRequired(name)


_CHECKED: dict[tuple[int, int, int, int, str], tuple[str, bool]] = {}
"""Templates found valid, by file version, with whether they need a repository: a service
checks each run's template, and reading and validating one takes tens of milliseconds."""


def create_run(
    store: Store,
    settings: Settings,
    brief: BriefText,
    model_id: str,
    *,
    workflow: str = DEFAULT_WORKFLOW,
    source: Path | None = None,
) -> str:
    project_id, brief_id, base_sha = create_project(store, settings, brief, source=source)
    return store.create_run(project_id, brief_id, model_id, workflow, base_sha=base_sha).id


def create_project(
    store: Store,
    settings: Settings,
    brief: BriefText,
    *,
    tenant_id: str = DEFAULT_TENANT,
    source: Path | None = None,
    project_id: str | None = None,
    budget_usd: float | None = None,
    run: NewRun | None = None,
) -> tuple[str, str, str | None]:
    """A project of ``tenant_id`` for ``brief`` (its repository a copy of ``source``, or one
    made when a run first needs it), stored with the brief, its budget (``budget_usd``, else
    the settings') and ``run`` in one transaction (``Store.open_project``); returns the
    project's id, the brief's and the repository's head (None until it is made).
    ``project_id``: the id to give it."""
    rows = project_rows(
        settings, brief, tenant_id=tenant_id, project_id=project_id or new_id("p"),
        budget_usd=budget_usd, run=run,
    )  # fmt: skip
    # a new project's repository is made when a run first needs it (``Runtime.repo``)
    base_sha = Repo.clone(source, Path(rows.repo_path)).head() if source else None
    if run is not None and base_sha is not None:
        run = dataclasses.replace(run, base_sha=base_sha)
    project, stored, _ = store.open_project(
        rows.name,
        rows.repo_path,
        tenant_id=tenant_id,
        project_id=rows.project_id,
        client=rows.client,
        budget_usd=rows.budget_usd,
        brief=rows.brief,
        run=run,
    )
    assert stored is not None
    return project.id, stored.id, base_sha


def project_rows(
    settings: Settings,
    brief: BriefText,
    *,
    tenant_id: str,
    project_id: str,
    budget_usd: float | None = None,
    run: NewRun | None = None,
) -> ProjectRows:
    """What a new project of ``tenant_id`` for ``brief`` stores (``create_project``; an
    inbound webhook's batch, ``Store.open_projects``): its repository's path (made when a run
    first needs it), its client, the budget it starts with (``budget_usd``, else the
    settings'), the brief and ``run``."""
    return ProjectRows(
        project_id=project_id,
        tenant_id=tenant_id,
        name=brief.title,
        repo_path=str(
            settings.projects_dir / f"{_slug(brief.title)}-{project_id.removeprefix('p-')}"
        ),
        client=formataddr((brief.client_name, brief.client_email)),
        # the project keeps the cap it started with
        budget_usd=budget_usd if budget_usd is not None else settings.budget_usd,
        brief=(brief.source, brief.text),
        run=run,
    )


def execute(
    services: Services,
    run_id: str,
    *,
    model: Model,
    on_event: EventSink | None = None,
    keep_running: bool = False,
    inputs: dict[str, Any] | None = None,
    resume: Any = None,
    warnings: Sequence[str] = (),
    rows: tuple[Run, Project] | None = None,
    within: Callable[[Connection], None] | None = None,
) -> Outcome:
    """Drive a run's graph: from ``inputs`` for a new run, else from its last checkpoint
    (``resume`` is the answer to a pending approval gate). ``rows``: the run and its
    project as the caller just read them. ``within``: more writes of the transaction that
    records how the run ended, when nothing follows it (``_record_ending``: the worker's
    job's finish).

    The run's lease is held throughout (``run_lock``). If it is lost (the renewal finds
    another holder, or a write is refused by the fence), the run stops, writes nothing more
    (its status, events and task trees are the new holder's now) and ``LeaseLost`` is raised.
    """
    settings, store = services.settings, services.store
    run, project = rows if rows is not None else store.run_with_project(run_id)
    repo_path = Path(project.repo_path)
    lost: FenceRefused | None = None
    resuming = inputs is None
    how = "resumed" if resuming else "started"
    said = without_home(settings, f"run {run_id} {how} with model {public_id(model.id)}")
    started: list[Event | None] = []

    def start(conn: Connection) -> None:  # in the lease's transaction (``run_lock``)
        started[:] = [
            store.mark_run(run_id, ("run", said), conn=conn, status="running", reason=None)
        ]

    with (
        stop.scope(
            name=run_id
        ) as stop_token,  # this run's stop switch (a worker's, when it opened one)
        open_checkpointer(settings) as saver,
        services.http() as http,
        stop.signals(),  # Ctrl-C, SIGTERM, SIGHUP: a clean, resumable stop of every run
    ):
        sandbox = services.sandbox.for_project(project.sandbox_slot)
        rt = Runtime.for_run(
            model=model,
            store=store,
            run_id=run_id,
            project_id=project.id,
            project=project,
            run=run,
            settings=settings,
            sandbox=sandbox,
            mailer=services.mailer,
            http=http,
            repo_path=repo_path,
            branch=run.branch,
            base_path=None if run.branch == "main" else Repo(repo_path).run_tree_path(run_id),
            crash_at=settings.crash_at,
            on_event=on_event,
            deployments=services.deployments,
            artifacts=services.artifacts,
            git_host=(services.git_host(http, project.tenant_id) if services.git_host else None),
            payments=(services.payments(project.tenant_id) if services.payments else None),
            deploy_target=(
                services.deploy_target(http, sandbox) if services.deploy_target else None
            ),
        )
        with run_lock(
            settings,
            store,
            run_id,
            leases=services.leases,
            on_lost=lambda: stop_token.request("it lost its lease"),
            then=start,
        ) as held:
            store.events_written()
            rt.show(started[0])
            for warning in warnings:
                rt.emit("warning", warning)
            if resuming and Repo(repo_path).exists():
                cleaned = rt.repo.recover()
                if cleaned:
                    rt.emit("recover", "cleaned up after a crash: " + ", ".join(cleaned))
            began = time.monotonic()
            graph: Any = None
            config = run_config(run_id, settings)
            status, reason = "failed", "the run did not finish"
            # a run stopped by an exception continues from its last checkpoint; one whose graph
            # ended (attempts exhausted, a gate rejected) has nothing left to resume
            resumable, fix = True, None
            try:
                graph = build_graph(run.workflow, settings.home, saver)
                if resume is None and resuming:  # taken over while applying a gate's answer?
                    resume = _answer_to_apply(rt, graph, config)
                payload: Any = Command(resume=resume) if resume is not None else inputs
                if not resuming or not graph.get_state(config).values:
                    notices.accepted(rt)  # once per project: its first run starts
                    if payload is None:  # its executor died before the first checkpoint
                        payload = {"run_id": run_id}  # nothing to go on from: start it

                def probe() -> Any:
                    store.ping()
                    return graph.get_state(config)

                # durability="sync": each step's checkpoint is on disk before the next step starts,
                # so a crash never loses a step whose side effects already happened; the steps'
                # side effects are idempotent for the step that was running when it crashed.
                # The same holds when the database goes away mid-step: wait, then go on from
                # the checkpoint (vitco.workflow.outages).
                final = outages.invoke(
                    lambda p: graph.invoke(p, config, context=rt, durability="sync"),
                    payload,
                    probe=probe,
                    wait_s=settings.dependency_wait_s,
                    on_outage=lambda exc: None,
                    on_back=lambda waited: rt.emit(
                        "recover", f"the database was unavailable for {waited:.1f} s; continuing"
                    ),
                )
                status, reason = _ending(final)
                resumable = False
                if keep_running and status == "delivered" and not rt.processes:
                    # the deploy step ran in a process that died: bring the app back up to serve it
                    restart_app(rt)
            except FenceRefused as exc:  # another holder drives the run now
                lost = exc
            except (KeyboardInterrupt, stop.RunInterrupted) as exc:
                how = f"by {exc}" if str(exc) else "by Ctrl-C"
                status, reason = "interrupted", f"stopped {how}; vitco resume {run_id} continues"
            except BudgetExceeded as exc:
                status, reason = "budget_exceeded", str(exc)
            except ATTENTION as exc:
                status, reason, fix = "needs_attention", str(exc), getattr(exc, "fix", None)
            except Exception as exc:  # a defect, not a known condition: keep the evidence
                status, reason = "failed", f"{type(exc).__name__}: {exc}"
                try:
                    rt.emit("error", reason, data={"traceback": traceback.format_exc()})
                except FenceRefused as refused:  # it failed because it lost the run meanwhile
                    lost = refused
            finally:
                rt.add_time("total", time.monotonic() - began)
                report = None
                try:
                    if lost is None and not held.lost.is_set():
                        report = _record_ending(rt, project, status, reason, {
                            "timings": {k: round(v, 3) for k, v in rt.timings.items()},
                            "resumable": resumable and status != "delivered",
                            "fix": fix,
                        }, held=held, within=within)  # fmt: skip
                        # where it stopped names the mail, when there is one to send (reading
                        # the graph's state again costs a delivered run for nothing)
                        stopped_at = (
                            _checkpoint_id(graph, config) if status in notices.STOPS else None
                        )
                        notices.run_stopped(rt, status, reason, stopped_at, resumable=resumable)
                except FenceRefused as exc:
                    lost = exc
                if (
                    lost is not None
                    or held.lost.is_set()
                    or not keep_running
                    or status != "delivered"
                ):
                    rt.stop_processes()
            if report is not None and lost is None and not held.lost.is_set():
                return Outcome(report=report, processes=list(rt.processes))
    rt.stop_processes()
    raise LeaseLost(run_id, lost)


def _record_ending(
    rt: Runtime,
    project: Project,
    status: str,
    reason: str,
    kept: dict[str, Any],
    *,
    held: Held | None = None,
    within: Callable[[Connection], None] | None = None,
) -> dict[str, Any]:
    """Store how the run ended, its report (with ``kept``: what only the runner knows; read on
    that transaction's connection) and the event that says so, in one transaction, after
    tidying up (only while it still holds its lease); returns the report.
    A report that cannot be built leaves the ending stored without it, and the error raised.
    The reason is the client's to read too (the API's run): the data dir's path is left out.

    When nothing of the run follows its ending (``ENDS_ALL``: no notice to mail, nothing to
    resume here), the same transaction gives back ``held``, the run's lease, when it is a
    row of the store's (``give_back_within``), and makes ``within``'s writes (the worker's
    job's finish): one commit, not three, and a crash leaves all of it or none."""
    reason = rt.without_home(reason)
    if status != "delivered":
        _stop_tasks(rt.store, rt.run_id, status)
    if status not in RESUMING:
        _remove_task_trees(rt)
    said = ("run", f"run {rt.run_id} {status}" + (f": {reason}" if reason else ""))
    ending: dict[str, Any] = {"status": status, "reason": reason or None}
    if status in TERMINAL:
        ending["finished_at"] = utcnow()
    built: list[dict[str, Any]] = []
    unbuilt: list[Exception] = []

    def reported(conn: Connection) -> dict[str, Any]:  # on the ending's connection
        try:
            fresh = build_report(rt.store, rt.run_id, project=project, ending=ending, conn=conn)
        except FenceRefused:
            raise
        except Exception as exc:
            unbuilt.append(exc)
            raise
        built.append(fresh | kept)
        return {"report": built[-1]}

    give_back = None
    if status in ENDS_ALL and held is not None:
        give_back = give_back_within(held, rt.store)
    writes = [w for w in (give_back, within) if w is not None] if status in ENDS_ALL else []

    def more(conn: Connection) -> None:
        for write in writes:
            write(conn)

    try:
        told = rt.store.mark_run(
            rt.run_id, said, within=more if writes else None, computed=reported, **ending
        )
    except Exception:
        if not unbuilt:
            raise
        # the report could not be built: the ending is stored without it (the lease and the
        # job end as for any failure: ``run_lock`` gives the lease back, the worker the job)
        rt.show(rt.store.mark_run(rt.run_id, said, **ending))
        raise
    report = built[-1]
    if give_back is not None and held is not None:  # committed: nothing left to give back
        held.given_back()
    rt.show(told)
    return report


ENDS_ALL = ("delivered",)
"""Endings after which the run's executor does nothing more: its lease and its job end in the
transaction that records it (``_record_ending``). Not the stops that mail a notice
(``notices.STOPS``) nor ``interrupted`` (handed back to be resumed)."""


def _checkpoint_id(graph: Any, config: Any) -> str | None:
    """The id of the run's last checkpoint (where it stands), None if it has none or the
    checkpoint cannot be read now (a database gone: the stop is mailed as one at the start)."""
    if graph is None:
        return None
    try:
        state = graph.get_state(config)
    except Exception:
        return None
    return cast("str | None", (state.config.get("configurable") or {}).get("checkpoint_id"))


RESUMING = ("interrupted", "awaiting_approval")
"""Statuses a run pauses in, to go on from where it stood: its task worktrees stay."""


def _remove_task_trees(rt: Runtime) -> None:
    """A finished run (delivered, needs attention, failed...) leaves no task worktree on disk;
    each task's branch keeps its commits, and a resumed task rebuilds its tree from the
    store (``task_steps._materialize``). Git's automatic upkeep, which the run's commands
    leave undone, happens here."""
    if not Repo(rt.repo_path).exists():
        return  # nothing was ever checked out
    try:
        for task in rt.store.tasks(rt.run_id):
            rt.repo.remove_worktree(f"{rt.run_id}/{task.key}")
        rt.repo.maintain()  # git's upkeep, once per run (``Repo.maintain``)
    except RepoError as exc:  # a repository removed meanwhile: nothing left to clean
        rt.emit("cleanup", f"task worktrees not removed: {exc}")
    with contextlib.suppress(OSError):  # the run's folder of task trees, once empty
        rt.repo.task_tree_path(rt.run_id).rmdir()


def _stop_tasks(store: Store, run_id: str, status: str) -> None:
    """A run that ended leaves no task ``running``: those it was working on are ``stopped``
    (resuming the run picks them up again)."""
    for task in store.tasks(run_id):
        if task.status == "running":
            store.update_task(
                run_id, task.key, status="stopped", reason=f"the run ended {status} meanwhile"
            )


def _answer_to_apply(rt: Runtime, graph: Any, config: Any) -> dict[str, Any] | None:
    """The answer recorded for the gate the run is paused at, when a process applying it died
    before the gate's checkpoint (``vitco.workflow.answers``); None when no pause is pending."""
    answer = pending_answer(rt.store, rt.run_id)
    if answer is None or not graph.get_state(config).interrupts:
        return None
    rt.emit("recover", "the gate's answer given before the interruption is applied")
    return answer


def _ending(final: dict[str, Any]) -> tuple[str, str]:
    """The run's status and reason from the graph's final (or interrupted) state."""
    interrupts = final.get("__interrupt__")
    if interrupts:
        question = getattr(interrupts[0], "value", {})
        text = (
            question.get("question", "approval needed")
            if isinstance(question, dict)
            else str(question)
        )
        return "awaiting_approval", text
    status = final.get("status", "failed")
    reason = final.get("reason") or ("" if status == "delivered" else "the run stopped")
    return status, reason


def resume(
    services: Services,
    run_id: str,
    *,
    model_id: str | None = None,
    model: Model | None = None,
    on_event: EventSink | None = None,
    keep_running: bool = False,
    resume: Any = None,
    within: Callable[[Connection], None] | None = None,
) -> Outcome:
    """Continue a run from its last checkpoint; completed model calls and side effects are not
    repeated (the ledger journal and idempotency keys see to that). ``within``: as
    ``execute``'s."""
    run = services.store.get_run(run_id)
    if run.status == "delivered" and resume is None:
        raise NothingToResume(run_id, run.status)
    if run.status == "awaiting_approval" and resume is None:
        raise NothingToResume(run_id, "awaiting approval (vitco approve RUN [--reject])")
    model = model or services.models(model_id or run.model)
    return execute(
        services,
        run_id,
        model=model,
        on_event=on_event,
        keep_running=keep_running,
        resume=resume,
        within=within,
    )
