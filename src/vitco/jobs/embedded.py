"""The embedded worker: one thread in the serving process that executes queued runs.

``vitco serve`` without a separate worker fleet (the embedded mode: SQLite, nothing else to
start) runs this thread. It takes one job at a time from the ``RunQueue`` and hands it to
``execute`` (the composition root's, which builds what a run needs); ``notify`` wakes it when a
job was queued, ``cancel`` stops the run it is executing, ``close`` stops it (a run cut short
is ``interrupted`` and resumable, like a Ctrl-C).

A cancel stops only the run it names: each job executes under a stop token of its own
(``workflow.stop.scope``), which its steps and sandboxed commands see.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from vitco.jobs.queue import Ending, Job, RunQueue
from vitco.observability.logging import bound
from vitco.store import Store, StoreError
from vitco.workflow import stop
from vitco.workflow.exceptions import WorkflowError
from vitco.workflow.runner import execute, resume
from vitco.workflow.services import Services

logger = logging.getLogger("vitco.jobs")

POLL_S = 2.0  # a job queued by another process is seen within this long


def execute_job(services: Services, job: Job) -> None:
    """Do what ``job`` asks with ``services``; a run's own failure is recorded on the run."""
    if job.action == "start":
        run = services.store.get_run(job.run_id)
        model = services.models(run.model)
        execute(services, job.run_id, model=model, inputs={"run_id": job.run_id})
    elif job.action == "resume":
        resume(services, job.run_id)
    else:
        resume(services, job.run_id, resume=job.payload or {"approved": False})


class EmbeddedWorker:
    """Executes queued jobs on a thread of its own (see the module docstring)."""

    def __init__(
        self,
        queue: RunQueue,
        store: Store,
        execute: Callable[[Job], None],
        *,
        name: str = "embedded",
        poll_s: float = POLL_S,
    ) -> None:
        self.queue = queue
        self.store = store
        self.execute = execute
        self.name = name
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._current: Job | None = None
        self._token: stop.StopToken | None = None
        self._cancelled: str | None = None
        self._thread = threading.Thread(target=self._loop, name=f"vitco-worker-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def notify(self) -> None:
        """A job was queued: look now."""
        self._wake.set()

    def cancel(self, run_id: str) -> bool:
        """Stop ``run_id`` if this worker is executing it; whether it was."""
        with self._lock:
            if self._current is None or self._current.run_id != run_id or self._token is None:
                return False
            self._cancelled = run_id
            token = self._token
        token.request("a cancel")
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking jobs, stop the run in progress (resumable) and wait for the thread."""
        self._closing.set()
        self._wake.set()
        with self._lock:
            token = self._token
        if token is not None:
            token.request("the server stopping")
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._closing.is_set():
            try:
                job = self.queue.take(self.name)
            except Exception:  # the database is away: try again later
                logger.exception("worker %s could not read the queue", self.name)
                job = None
            if job is None:
                self._wake.wait(self.poll_s)
                self._wake.clear()
                continue
            self._run(job)

    def _run(self, job: Job) -> None:
        with bound(**self._ids(job.run_id)):  # on every log line of the run, steps' too
            logger.info("job %s: %s run", job.id, job.action, extra={"job_id": job.id})
            status = self._execute(job)
            logger.info("job %s: %s", job.id, status, extra={"job_id": job.id})

    def _ids(self, run_id: str) -> dict[str, str | None]:
        try:
            project_id = self.store.get_run(run_id).project_id
            tenant_id = self.store.get_project(project_id).tenant_id
        except StoreError:
            return {"run_id": run_id}
        return {"run_id": run_id, "project_id": project_id, "tenant_id": tenant_id}

    def _execute(self, job: Job) -> Ending:
        token = stop.StopToken(job.run_id)
        with self._lock:
            self._current, self._token, self._cancelled = job, token, None
        if self._closing.is_set():  # closed between taking the job and here: stop at once
            token.request("the server stopping")
        status: Ending = "done"
        try:
            with stop.scope(token):
                self.execute(job)
        except WorkflowError as exc:  # nothing to resume, busy elsewhere: the job is void
            status = "failed"
            self.store.add_event(job.run_id, "error", f"{job.action} not done: {exc}")
        except Exception:
            status = "failed"
            logger.exception("worker %s: job %s (%s) failed", self.name, job.id, job.action)
        finally:
            with self._lock:
                cancelled = self._cancelled == job.run_id
                self._current = self._token = self._cancelled = None
            if cancelled:
                status = "cancelled"
                self.store.update_run(job.run_id, status="cancelled", reason="cancelled on request")
                self.store.add_event(job.run_id, "run", f"run {job.run_id} cancelled")
            self.queue.finish(job, status)
        return status
