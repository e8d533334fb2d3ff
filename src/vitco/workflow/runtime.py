"""What the workflow's steps run with: the store, the model, the sandbox, the mailer.

A ``Runtime`` is built once per run by the runner and closed over by the graph's nodes; the
graph state itself only carries ids. ``StoreLedger`` writes the cost ledger (every request
the run's model sends, as it ends, with a ``model`` event) and serves the resume journal from
the ``model_calls`` table.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import httpx

from vitco.config import Settings
from vitco.integrations.deploy.target import DeployTarget
from vitco.integrations.git.host import GitHost
from vitco.integrations.git.repo import Repo
from vitco.integrations.mail import Mailer
from vitco.integrations.payments import Payments
from vitco.llm.budget import Budget
from vitco.llm.ledger import journaled
from vitco.llm.meter import Attempt
from vitco.llm.model import Model, ModelRequest, ModelResponse, Tier, Usage, public_id
from vitco.llm.redaction import RedactingModel
from vitco.observability.hostpaths import without_install
from vitco.sandbox.protocol import Limits, Process, Sandbox
from vitco.store import Store
from vitco.store.models import Event, ModelCall, Project, Run
from vitco.toolchains import Tools
from vitco.toolchains.protocol import project_limits, project_tools

if TYPE_CHECKING:
    from vitco.integrations.storage import ArtifactStore
    from vitco.workflow.services import Deployments

EventSink = Callable[[Event], None]


class EventEmitter(Protocol):
    def __call__(
        self, kind: str, message: str, *, task: str | None, data: dict[str, Any]
    ) -> None: ...


class StoreLedger:
    """The ledger of one run, in the database: every request the run's model sends is a row
    (written at once, never held back with the step's writes: a step that fails or is
    stopped later still paid for it) and a ``model`` event as it happens."""

    def __init__(
        self, store: Store, run_id: str, project_id: str, emit: EventEmitter | None = None
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.project_id = project_id
        self.emit = emit

    def lookup(self, request: ModelRequest) -> ModelResponse | None:
        row = self.store.find_call(self.run_id, request.key.label(), request.fingerprint())
        if row is None:
            # the request is about to be paid: not by a holder that lost the run's lease
            self.store.check_fence(self.run_id)
            return None
        return ModelResponse(
            content=row.response,
            usage=Usage(input_tokens=row.input_tokens, output_tokens=row.output_tokens),
            model=row.model,
            tier=cast(Tier | None, row.tier),  # escalation after a resume needs the tier
        )

    def record(self, attempt: Attempt) -> None:
        """Write one request (see ``vitco.llm.meter``) and say so."""
        key = attempt.request.key
        self.store.record_call(
            ModelCall(
                run_id=self.run_id,
                project_id=self.project_id,
                call_key=key.label(),
                role=key.role,
                step=key.step,
                task=key.task,
                attempt=key.attempt,
                repair=key.repair,
                tier=attempt.tier or attempt.request.tier,
                model=attempt.model,
                fingerprint=attempt.request.fingerprint(),
                input_tokens=attempt.usage.input_tokens,
                output_tokens=attempt.usage.output_tokens,
                cache_read_tokens=attempt.usage.cache_read_tokens,
                cost_usd=attempt.cost_usd,
                latency_s=attempt.latency_s,
                cache_hit=attempt.cached,
                retries=attempt.retries,
                response=attempt.content,
                outcome=attempt.outcome,
                error=attempt.error,
                max_tokens=attempt.max_tokens,
            )
        )
        if self.emit is not None:
            self.emit("model", model_event(attempt), task=key.task, data=event_data(attempt))

    def reject(self, request: ModelRequest, reason: str) -> None:
        key = request.key.label()
        self.store.mark_call(self.run_id, key, request.fingerprint(), outcome="invalid")
        if self.emit is not None:
            data = {"call": key, "role": request.key.role, "outcome": "invalid", "error": reason}
            self.emit(
                "model", f"{key}: answer rejected, repair asked", task=request.key.task, data=data
            )


def model_event(attempt: Attempt) -> str:
    """The line of a ``model`` event: call, model, tier, outcome, tokens, cost, time."""
    usage = attempt.usage
    model = public_id(attempt.model)  # a replay's file path is the host's
    where = f"{model} [{attempt.tier}]" if attempt.tier else model
    text = (
        f"{attempt.request.key.label()}: {where} {attempt.outcome}, "
        f"{usage.input_tokens}+{usage.output_tokens} tokens, ${attempt.cost_usd:.4f}, "
        f"{attempt.latency_s:.1f}s"
    )
    if attempt.error:
        text += f" ({attempt.error[:200]})"
    return text


def event_data(attempt: Attempt) -> dict[str, Any]:
    key = attempt.request.key
    return {
        "call": key.label(),
        "role": key.role,
        "step": key.step,
        "tier": attempt.tier,
        "model": public_id(attempt.model),
        "outcome": attempt.outcome,
        "input_tokens": attempt.usage.input_tokens,
        "output_tokens": attempt.usage.output_tokens,
        "cost_usd": attempt.cost_usd,
        "latency_s": round(attempt.latency_s, 3),
        "max_tokens": attempt.max_tokens,
        "error": attempt.error,
    }


def without_home(settings: Settings, text: str) -> str:
    """``Runtime.without_home`` of a run of ``settings`` (before its runtime is built)."""
    home = str(settings.home).rstrip("/")
    if home not in ("", ".") and home in text:
        text = text.replace(home + "/", "").replace(home, "<data dir>")
    return without_install(text)


@dataclass
class Runtime:
    """Everything a run's steps need, passed in (tests build one with fakes of the model only)."""

    settings: Settings
    store: Store
    model: Model
    sandbox: Sandbox
    mailer: Mailer
    http: httpx.Client
    run_id: str
    project_id: str
    repo_path: Path
    branch: str = "main"
    base_path: Path | None = None  # where the run's branch is checked out (default: repo_path)
    crash_at: str | None = None
    on_event: EventSink | None = None
    deployments: Deployments | None = None
    artifacts: ArtifactStore | None = None
    git_host: GitHost | None = None
    payments: Payments | None = None
    deploy_target: DeployTarget | None = None  # None: the local, supervised deployment
    started_project: Project | None = None
    """The run's project as read when the run started (``client_project`` reads it)."""
    started_run: Run | None = None
    """The run as read when it started (``run_row`` reads it)."""
    processes: list[Process] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    _effects: dict[str, dict[str, Any]] = field(default_factory=dict)
    _repo_lock: threading.Lock = field(default_factory=threading.Lock)
    _repo_ready: bool = False

    def artifact(self, ref: str) -> dict[str, Any]:
        """An artifact's content, read from the store once per run (artifacts never change;
        callers validate it into a model and do not modify it)."""
        with self._lock:
            cached = self._artifacts.get(ref)
        if cached is None:
            cached = self.store.get_artifact(ref)
            with self._lock:
                self._artifacts[ref] = cached
        return cached

    def once(self, run_id: str, key: str, do: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``Store.once``, its result kept for the rest of the run: a side effect recorded
        stays recorded as it was (the first result wins, none is ever removed), so a key the
        run asks for again (its clock at every model call, the host's repository at every
        task) is read from the store once."""
        with self._lock:
            kept = self._effects.get(key)
        if kept is None:
            kept = self.store.once(run_id, key, do)
            with self._lock:
                self._effects[key] = kept
        return kept

    def run_row(self) -> Run:
        """The run for what never changes in it (its workflow, brief, branch and creation
        time): the row read when it started, else the store's. Its status, base and report
        are read from the store."""
        if self.started_run is not None and self.started_run.id == self.run_id:
            return self.started_run
        return self.store.get_run(self.run_id)

    def client_project(self) -> Project:
        """The run's project for what never changes in it (its name, client and tenant): the
        row read when the run started, else the store's. Its budget and payment are read from
        the store (``vitco budget`` and a payment change them)."""
        if self.started_project is not None and self.started_project.id == self.project_id:
            return self.started_project
        return self.store.get_project(self.project_id)

    @classmethod
    def for_run(
        cls,
        *,
        model: Model,
        store: Store,
        run_id: str,
        project_id: str,
        project: Project | None = None,
        run: Run | None = None,
        **kw: Any,
    ) -> Runtime:
        """The runtime of one run: its model metered (every request to a provider priced
        against the project's budget before it is sent, and written to the ledger with an
        event when it ends) inside the journal (a resumed run's answered calls are free and
        never refused).

        The cap is the project's, set when it was created (VITCO_BUDGET_USD, --budget) and
        changed only by `vitco budget`: one cleared there stays cleared."""
        settings: Settings | None = kw.get("settings")
        if project is None or project.id != project_id:  # ``project``: the caller's read
            project = store.get_project(project_id)
        cap = project.budget_usd
        rt = cls(model=model, store=store, run_id=run_id, project_id=project_id,
                 started_project=project, started_run=run, **kw)  # fmt: skip
        budget = None
        if cap is not None:
            allow = settings is not None and settings.allow_unpriced
            budget = Budget(cap, lambda: store.spent_usd(project_id), allow_unpriced=allow)
        if store.redactor is not None:  # no known secret reaches a prompt
            model = RedactingModel(model, store.redactor)
        rt.model = journaled(
            model, StoreLedger(store, run_id, project_id, emit=rt.emit_now), budget=budget
        )
        return rt

    @property
    def tools(self) -> Tools:
        """What the run's toolchain works with."""
        return project_tools(
            self.settings,
            self.sandbox,
            self.http,
            run_id=self.run_id,
            project_id=self.project_id,
            on_started=self.started,
        )

    def started(self, process: Process) -> None:
        """A delivered app runs: stop it when the run ends, even on a failure. Apps that
        have stopped (the scratch copy smoke ran on) are dropped, so ``processes`` holds
        only what still serves."""
        self.processes[:] = [p for p in self.processes if p.poll() is None]
        self.processes.append(process)
        self.fault("mid-deploy")

    @property
    def limits(self) -> Limits:
        """The limits of the run's sandboxed commands (from the settings)."""
        return project_limits(self.settings)

    @property
    def repo(self) -> Repo:
        """The project's repository (owner of the task worktrees), made when a step first
        needs it: a workflow that never touches files (a triage, a reply) costs no ``git``.
        The run's ``base_sha`` is then the repository's first commit."""
        if not self._repo_ready:
            with self._repo_lock:
                if not self._repo_ready:
                    if not Repo(self.repo_path).exists():
                        head = Repo.init(self.repo_path).head()
                        if self.store.get_run(self.run_id).base_sha is None:
                            self.store.update_run(self.run_id, base_sha=head)
                    self._repo_ready = True
        return Repo(self.repo_path)

    @property
    def base(self) -> Repo:
        """The checkout of the run's own branch (``main`` for a first run)."""
        if self.base_path is not None:
            return Repo(self.base_path)
        return self.repo

    def tree(self, task: str) -> Repo:
        """The worktree of one of this run's tasks, branched from the run's branch."""
        return self.repo.worktree(f"{self.run_id}/{task}", base=self.branch)

    def fault(self, point: str) -> None:
        """Fault injection for the crash tests: die here, like ``kill -9``, when asked to.

        ``VITCO_CRASH_AT=<point>`` names one of the points the steps pass through
        (``after:<node>``, ``mid-task``, ``after-commit``, ``mid-publish``, ``mid-invoice``,
        ``mid-deploy``, ``before-mail``); ``pause:<point>`` stops the process there instead
        (SIGSTOP, every thread, the lease's renewals too) until a SIGCONT: a worker paused past
        its lease.
        """
        if self.crash_at == point:
            os.kill(os.getpid(), signal.SIGKILL)
        if self.crash_at == f"pause:{point}":
            os.kill(os.getpid(), signal.SIGSTOP)

    def emit(
        self,
        kind: str,
        message: str = "",
        *,
        step: str | None = None,
        task: str | None = None,
        data: dict[str, Any] | None = None,
        now: bool = False,
    ) -> None:
        """Record an event (with the step's writes, or at once when ``now``) and show it.
        Clients read events (the API, the live stream): the data dir's path is left out of the
        message and of the data's top-level texts (``<home>/outbox/x.eml`` is ``outbox/x.eml``)."""
        message = self.without_home(message)
        if data:
            data = {k: self.without_home(v) if isinstance(v, str) else v for k, v in data.items()}
        self.show(
            self.store.add_event(
                self.run_id, kind, message, step=step, task=task, data=data, now=now
            )
        )

    def show(self, event: Event | None) -> None:
        """Show an event of the run (written already) to ``on_event``."""
        if event is not None and self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # a broken display (closed pipe) must not stop the run
                self.on_event = None

    def without_home(self, text: str) -> str:
        """``text`` without the data dir's path (where projects, cassettes, mails and invoices
        live on the host): ``<home>/outbox/x.eml`` becomes ``outbox/x.eml``; nor where vitco
        and its Python are installed (a traceback's files: ``observability.hostpaths``)."""
        return without_home(self.settings, text)

    def public(self, text: str, limit: int = 1000) -> str:
        """``text`` as a client may read it (a mail, the reason of a run, an event): without
        the data dir's path (:meth:`without_home`) and without known secrets, at most
        ``limit`` characters."""
        text = self.without_home(text)
        if self.store.redactor is not None:
            text = self.store.redactor.text(text)
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def emit_now(self, kind: str, message: str, *, task: str | None, data: dict[str, Any]) -> None:
        """An event written at once, not with the step (a request's: it happened whatever
        becomes of the step)."""
        self.emit(kind, message, task=task, data=data, now=True)

    def add_time(self, bucket: str, seconds: float) -> None:
        with self._lock:
            self.timings[bucket] = self.timings.get(bucket, 0.0) + seconds

    def disown(self, process: Process) -> None:
        """``process`` is someone else's now (the supervisor's): the run no longer stops it."""
        self.processes[:] = [p for p in self.processes if p is not process]

    def stop_processes(self) -> None:
        for process in self.processes:
            process.stop()
        self.processes.clear()
