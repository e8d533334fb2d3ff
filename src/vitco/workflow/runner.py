"""Starting and executing runs.

``start_run`` checks the brief and the model before storing anything, creates the project (a git
repository under the data dir), the brief and the run, then ``execute`` drives the graph with
the SQLite checkpointer. Errors the platform knows (a model that cannot answer, an answer that
never validates, an unsafe changeset, an app that never becomes healthy) end the run
``needs_attention`` with the reason stored; anything else ends it ``failed``. Either way the
run's state stays in the store and the checkpoint, resumable.
"""

from __future__ import annotations

import re
from email.utils import formataddr
import sqlite3
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from langgraph.checkpoint.sqlite import SqliteSaver

from vitco.agents.exceptions import AgentError
from vitco.config import Settings
from vitco.integrations.deploy.exceptions import DeployError
from vitco.integrations.mail import OutboxMailer
from vitco.llm.exceptions import LLMError
from vitco.llm.model import Model
from vitco.llm.resolve import resolve_model
from vitco.sandbox import get_sandbox
from vitco.sandbox.protocol import Process, Sandbox
from vitco.store import Store, open_database
from vitco.store.models import new_id
from vitco.workflow.brief import BriefText, load_brief
from vitco.workflow.graph import build_graph
from vitco.workflow.report import build_report
from vitco.workflow.runtime import EventSink, Runtime
from vitco.workspace.exceptions import WorkspaceError
from vitco.workspace.repo import Repo

ATTENTION = (LLMError, AgentError, WorkspaceError, DeployError)
WORKFLOW = "deliver-project"


@dataclass
class Outcome:
    """A finished (or stopped) run: its report and the processes it left running."""

    report: dict[str, Any]
    processes: list[Process] = field(default_factory=list)

    def stop(self) -> None:
        for process in self.processes:
            process.stop()
        self.processes.clear()


def open_store(settings: Settings) -> Store:
    settings.ensure_dirs()
    return Store(open_database(settings.resolved_database_url))


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "project"


def start_run(
    settings: Settings,
    brief_path: Path,
    *,
    model_id: str | None = None,
    model: Model | None = None,
    sandbox: Sandbox | None = None,
    on_event: EventSink | None = None,
    keep_running: bool = False,
) -> Outcome:
    """Deliver the project a brief describes; see the module docstring for what can go wrong."""
    brief = load_brief(brief_path)
    model = model or resolve_model(model_id or settings.model)
    sandbox = sandbox or get_sandbox(settings)
    store = open_store(settings)
    run_id = create_run(store, settings, brief, model.id)
    return execute(
        settings,
        store,
        run_id,
        model=model,
        sandbox=sandbox,
        on_event=on_event,
        keep_running=keep_running,
        inputs={"run_id": run_id},
    )


def create_run(store: Store, settings: Settings, brief: BriefText, model_id: str) -> str:
    project_id = new_id("p")
    repo_path = settings.projects_dir / f"{_slug(brief.title)}-{project_id.removeprefix('p-')}"
    Repo.init(repo_path)
    project = store.create_project(
        brief.title,
        str(repo_path),
        project_id=project_id,
        client=formataddr((brief.client_name, brief.client_email)),
    )
    stored = store.create_brief(project.id, brief.source, brief.text)
    return store.create_run(project.id, stored.id, model_id, WORKFLOW).id


def execute(
    settings: Settings,
    store: Store,
    run_id: str,
    *,
    model: Model,
    sandbox: Sandbox,
    on_event: EventSink | None = None,
    keep_running: bool = False,
    inputs: dict[str, Any] | None = None,
) -> Outcome:
    """Drive a run's graph from its last checkpoint (or from ``inputs`` for a new run)."""
    run = store.get_run(run_id)
    project = store.get_project(run.project_id)
    conn = sqlite3.connect(settings.checkpoints_path, check_same_thread=False)
    http = httpx.Client(timeout=10.0)
    rt = Runtime.for_run(
        model=model,
        store=store,
        run_id=run_id,
        project_id=project.id,
        settings=settings,
        sandbox=sandbox,
        mailer=OutboxMailer(settings.outbox_dir),
        http=http,
        repo_path=Path(project.repo_path),
        on_event=on_event,
    )
    store.update_run(run_id, status="running", reason=None)
    rt.emit("run", f"run {run_id} started with model {model.id}")
    began = time.monotonic()
    status, reason = "failed", "the run did not finish"
    try:
        graph = build_graph(rt, SqliteSaver(conn))
        config = {"configurable": {"thread_id": run_id}, "recursion_limit": 500}
        # durability="sync": each step's checkpoint is on disk before the next step starts, so
        # a crash never loses a step whose side effects already happened.
        final = graph.invoke(inputs, config, durability="sync")
        status = final.get("status", "failed")
        reason = final.get("reason") or ("" if status == "delivered" else "the run stopped")
    except ATTENTION as exc:
        status, reason = "needs_attention", str(exc)
    except Exception as exc:  # a defect, not a known condition: keep the evidence
        status, reason = "failed", f"{type(exc).__name__}: {exc}"
        rt.emit("error", reason, data={"traceback": traceback.format_exc()})
    finally:
        rt.add_time("total", time.monotonic() - began)
        store.update_run(run_id, status=status, reason=reason or None)
        rt.emit("run", f"run {run_id} {status}" + (f": {reason}" if reason else ""))
        http.close()
        conn.close()
        if not keep_running or status != "delivered":
            rt.stop_processes()
    report = build_report(store, run_id) | {
        "timings": {k: round(v, 3) for k, v in rt.timings.items()}
    }
    store.update_run(run_id, report=report)
    return Outcome(report=report, processes=list(rt.processes))
