"""The worker: threads in one process that execute queued runs, up to ``concurrency`` at once.

``vitco serve`` runs one inside the API process (the embedded mode); ``vitco worker`` runs one
on its own, on as many hosts as wanted, all taking from the same ``RunQueue``. Each slot thread
takes a job for the queue's visibility timeout and hands it to ``execute`` (the composition
root's, which builds what a run needs); one more thread renews the leases of the jobs held,
every third of the timeout, and notices a run cancelled from another process (its stored
status turned ``cancelled``). A job whose lease was lost (this process stalled longer than the
timeout and another worker took it over) is not acked: the other worker owns it now, and the
run's own lease keeps the two from executing it at once. When the queue is the store's own
table, a run that ends delivered finishes its job in the transaction that records its ending
(the worker's writes, ``Handed`` to ``execute_job``, passed down to the runner): one commit
fewer, and no crash leaves the run delivered with its job still held (taken again for
nothing).

Each job executes under a stop token of its own (``workflow.stop``), so a cancel stops only the
run it names. Shutting down:

- ``drain()`` (the first SIGTERM): take no more jobs; the steps running now finish, no further
  step starts, and each run stopped that way hands its job back (``release``) so another
  worker resumes it at once from its checkpoint.
- ``hand_back()`` (a second SIGTERM, or ``close``): stop the runs now (their sandboxed commands
  are killed; a step cut short is done again on resume) and hand their jobs back.

``notify`` wakes an idle slot when a job was queued in this process, and the queue's
``listen`` calls it when another process queued one (Redis, PostgreSQL; SQLite has no such
signal), so an idle slot takes a new job at once, not at its next poll. One slot, not every
idle one: a job is taken by one, and the others' takes found nothing (the webhook bench's
embedded worker spent about a tenth of its CPU on takes). A slot that was woken and took a
job wakes the next (there may be more: a burst, a listener that reconnected). ``watch`` (the
composition root's ``jobs.worker.scan_orphans``, in ``vitco worker`` and ``vitco serve``
alike) is called every ``poll_s`` to queue a resume of each run whose executor died.

An orphan's resume (``ORPHAN_PRIORITY``) does not wait for a free slot: when ``watch``
queues some, the worker starts a taker thread for each (at most ``concurrency`` at once
beyond its slots) that takes one job of that priority and executes it. Every worker of a
fleet watches, so each orphan is taken over by whichever worker's taker comes first, as soon
as its lease has expired, even while every slot of the fleet is busy with new runs.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field

from sqlalchemy import Connection

from vitco.jobs.queue import LEASE_S, PRIORITIES, Ending, Job, RunQueue, StoreRunQueue
from vitco.leases import Lease, RunLease
from vitco.observability.logging import bound
from vitco.store import Store, StoreError
from vitco.store.models import Project, Run
from vitco.workflow import stop
from vitco.workflow.exceptions import RunBusy, WorkflowError
from vitco.workflow.runner import execute, resume
from vitco.workflow.services import Services

logger = logging.getLogger("vitco.jobs")

POLL_S = 2.0  # a job queued by another process and not heard of is seen within this long
ORPHAN_PRIORITY = PRIORITIES[1]
"""An orphan's resume goes before every queued start and is taken by a taker thread of its
own (see the module docstring): its run was under way (its client is waiting, part of its
cost is spent) and its takeover is bounded (within 15 s of its worker's death). At the
default priority it waited behind a backlog of new runs (30 s in the fleet test); ahead of
them but in the slots, for a run to end somewhere (up to 17 s); in one reserved slot per
worker, for the orphans of an earlier death to end (25 s)."""
TAKEN_OVER = ("running", "interrupted")
"""A run in one of these statuses when its job is taken was being executed by a worker that
died or handed it back: it is resumed from its checkpoint, whatever the job asked."""


def execute_job(services: Services, job: Job) -> None:
    """Do what ``job`` asks with ``services``; a run's own failure is recorded on the run.

    A job taken over (its run ``running`` or ``interrupted``, not ``queued``) resumes the run;
    a run that has moved on meanwhile (delivered, cancelled, waiting at a gate) is left as is.
    A gate's answer taken over after the gate consumed it is not asked twice."""
    handed = _handed.get()
    within = handed.within if handed is not None else None
    if handed is not None and handed.rows is not None and handed.rows[0].id == job.run_id:
        run, project = handed.rows
    else:
        run, project = services.store.run_with_project(job.run_id)
    if run.status in TAKEN_OVER:
        resume(services, job.run_id, within=within)
    elif run.status != "queued":
        logger.info("job %s: run %s is %s, nothing to do", job.id, job.run_id, run.status)
    elif job.action == "start":
        model = services.models(run.model)
        execute(
            services,
            job.run_id,
            model=model,
            inputs={"run_id": job.run_id},
            rows=(run, project),
            within=within,
        )
    elif job.action == "resume":
        resume(services, job.run_id, within=within)
    else:
        resume(services, job.run_id, resume=job.payload or {"approved": False}, within=within)


@dataclass(frozen=True)
class Handed:
    """What the worker that took a job hands ``execute_job`` with it: the run and its
    project as it read them for the job's log lines (read once a job, not twice), and the
    writes that finish the job in the transaction that records how its run ended
    (``EmbeddedWorker._finish_with_run``)."""

    rows: tuple[Run, Project] | None
    within: Callable[[Connection], None] | None


_handed: ContextVar[Handed | None] = ContextVar("vitco_job_handed", default=None)


@dataclass
class Held:
    """A job this worker executes, and what happened to it meanwhile."""

    job: Job
    token: stop.StopToken
    cancelled: bool = False
    lost: bool = False
    handing_back: bool = False
    finished: bool = False  # with its run's ending (``EmbeddedWorker._finish_with_run``)


@dataclass(frozen=True)
class Done:
    """How a job this worker took ended: ``ending`` is what the queue was told (``released``:
    handed back; ``lost``: another worker owns it now)."""

    job: Job
    ending: str


@dataclass
class _State:
    held: dict[int, Held] = field(default_factory=dict)
    done: list[Done] = field(default_factory=list)


class EmbeddedWorker:
    """Executes queued jobs on ``concurrency`` threads (see the module docstring)."""

    def __init__(
        self,
        queue: RunQueue,
        store: Store,
        execute: Callable[[Job], None],
        *,
        name: str = "embedded",
        concurrency: int = 1,
        lease_s: float = LEASE_S,
        poll_s: float = POLL_S,
        burst: bool = False,
        watch: Callable[[], list[str]] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self.queue = queue
        self.store = store
        self.execute = execute
        self.name = name
        self.concurrency = concurrency
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.burst = burst
        self.watch = watch
        self._recovered: list[str] = []
        self._wake = threading.Condition()
        self._calls = 0  # wake-ups no idle slot has answered yet (at most one per slot)
        self._draining = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._state = _State()
        self._slots = [
            threading.Thread(target=self._loop, name=f"vitco-worker-{name}-{i}", daemon=True)
            for i in range(concurrency)
        ]
        self._takers: list[threading.Thread] = []
        self._unlisten: Callable[[], None] | None = None
        self._renewer = threading.Thread(
            target=self._renew_loop, name=f"vitco-worker-{name}-renew", daemon=True
        )
        self._watcher = threading.Thread(
            target=self._watch_loop, name=f"vitco-worker-{name}-watch", daemon=True
        )

    # -- control ------------------------------------------------------------------------

    def start(self) -> None:
        if self.watch is not None:
            if self.burst:  # the orphans there are now, then the queue until it is empty
                self._look_for_orphans()
            else:
                self._watcher.start()
        if not self.burst:  # a burst worker stops at an empty queue: nothing to wait for
            self._unlisten = self.queue.listen(self.notify)
        for thread in self._slots:
            thread.start()
        self._renewer.start()

    def notify(self) -> None:
        """A job was queued: an idle slot looks now (see the module docstring)."""
        with self._wake:
            self._calls = min(self._calls + 1, self.concurrency)
            self._wake.notify()

    def cancel(self, run_id: str) -> bool:
        """Stop ``run_id`` if this worker is executing it; whether it was."""
        with self._lock:
            found = [h for h in self._state.held.values() if h.job.run_id == run_id]
            for held in found:
                held.cancelled = True
        for held in found:
            held.token.request("a cancel")
        return bool(found)

    def drain(self) -> None:
        """Take no more jobs; runs in progress stop after their current steps and hand their
        jobs back."""
        self._draining.set()
        with self._wake:
            self._wake.notify_all()
        if self._unlisten is not None:  # takes nothing more: nothing to be woken for
            self._unlisten()
        with self._lock:
            helds = list(self._state.held.values())
            for held in helds:
                held.handing_back = True
        for held in helds:
            held.token.drain("the worker shutting down")

    def hand_back(self) -> None:
        """Take no more jobs; stop the runs in progress now and hand their jobs back."""
        self.drain()
        with self._lock:
            helds = list(self._state.held.values())
        for held in helds:
            held.token.request("the worker shutting down")

    def close(self, timeout: float = 30.0) -> None:
        """Hand back what is in progress (resumable) and wait for the threads."""
        self.hand_back()
        self.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every slot has stopped (after ``drain``, or in burst mode once the
        queue is empty); whether they all have."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            threads = [*self._slots, *self._takers]
        for thread in threads:
            if thread.is_alive():
                thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        finished = not any(t.is_alive() for t in threads) and self._no_new_takers(threads)
        if finished:
            self._stopped.set()
        return finished

    # -- what it is doing -------------------------------------------------------------------

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    def in_progress(self) -> list[Job]:
        with self._lock:
            return [h.job for h in self._state.held.values()]

    def done(self) -> list[Done]:
        with self._lock:
            return list(self._state.done)

    @property
    def recovered(self) -> list[str]:
        """The runs ``watch`` queued a resume of, each time it found them orphaned."""
        with self._lock:
            return list(self._recovered)

    # -- the threads -------------------------------------------------------------------------

    def _loop(self, least: int = PRIORITIES[0]) -> None:
        """One slot: take jobs of priority ``least`` or more and execute them, one at a time."""
        woken = False
        while not self._draining.is_set():
            try:
                job = self.queue.take(self.name, self.lease_s, least=least)
            except Exception:  # the queue's backend is away: try again later
                logger.exception("worker %s could not read the queue", self.name)
                job = None
            if job is None:
                if self.burst:
                    return
                woken = self._idle()
                continue
            if woken:  # there may be more: the next idle slot looks too
                self.notify()
                woken = False
            self._run(job)

    def _idle(self) -> bool:
        """Wait for a wake-up (``notify``) or the next poll; whether it was a wake-up."""
        with self._wake:
            if not self._calls and not self._draining.is_set():
                self._wake.wait(self.poll_s)
            if not self._calls:
                return False
            self._calls -= 1
            return True

    def _watch_loop(self) -> None:
        while not self._draining.is_set():
            self._look_for_orphans()
            self._draining.wait(self.poll_s)

    def _look_for_orphans(self) -> None:
        try:
            queued = self.watch() if self.watch is not None else []
        except Exception:  # the store or the queue is away: look again later
            logger.exception("worker %s could not look for orphaned runs", self.name)
            return
        if queued:
            with self._lock:
                self._recovered += queued
                self._takers = [t for t in self._takers if t.is_alive()]
                room = self.concurrency - len(self._takers)
                takers = [
                    threading.Thread(target=self._take_over, name=f"vitco-worker-{self.name}-"
                                     f"takeover-{run_id}", daemon=True)
                    for run_id in queued[: max(0, room)]
                ]  # fmt: skip
                self._takers += takers
            for taker in takers:
                taker.start()

    def _take_over(self) -> None:
        """One taker: the first orphan's resume queued (by any worker), executed here."""
        if self._draining.is_set():
            return
        try:
            job = self.queue.take(self.name, self.lease_s, least=ORPHAN_PRIORITY)
        except Exception:  # the queue's backend is away: the next look starts another
            logger.exception("worker %s could not read the queue", self.name)
            return
        if job is not None:  # else another worker's taker was first
            self._run(job)

    def _no_new_takers(self, seen: list[threading.Thread]) -> bool:
        with self._lock:
            return all(t in seen or not t.is_alive() for t in self._takers)

    def _renew_loop(self) -> None:
        while not self._stopped.wait(self.lease_s / 3):
            with self._lock:
                helds = [h for h in self._state.held.values() if not (h.lost or h.finished)]
            for held in helds:
                self._renew(held)

    def _renew(self, held: Held) -> None:
        job = held.job
        try:
            kept = self.queue.renew(job, self.lease_s)
        except Exception:  # a blip: the lease lasts through two missed renewals
            logger.exception("worker %s could not renew job %s", self.name, job.id)
            return
        if not kept and held.finished:  # it ended with its run meanwhile: nothing was lost
            return
        if not kept:
            held.lost = True
            logger.warning(
                "worker %s lost the lease of job %s to another worker", self.name, job.id
            )
        try:
            cancelled = self.store.get_run(job.run_id).status == "cancelled"
        except StoreError:
            return
        if cancelled and not held.cancelled:  # cancelled by another process (an API instance)
            held.cancelled = True
            held.token.request("a cancel")

    def _run(self, job: Job) -> None:
        # on every log line of the run, steps' too, the job's own two lines included: they
        # carry the project as every other line of the run does (tests/api/test_metrics.py),
        # which costs one query a job (0.08 ms; twice removed for it, twice put back)
        # (the run and project read for it are handed to ``execute_job``: read once a job)
        try:
            rows: tuple[Run, Project] | None = self.store.run_with_project(job.run_id)
        except StoreError:
            rows = None
        with bound(**_ids(job, rows)):
            logger.info("job %s: %s run", job.id, job.action, extra={"job_id": job.id})
            ending = self._execute(job, rows)
            logger.info("job %s: %s", job.id, ending, extra={"job_id": job.id})

    def _execute(self, job: Job, rows: tuple[Run, Project] | None = None) -> str:
        held = Held(job, stop.StopToken(job.run_id))
        with self._lock:
            self._state.held[job.id] = held
            if self._draining.is_set():  # drained between the take and here: hand it back
                held.handing_back = True
                held.token.drain("the worker shutting down")
        status: Ending = "done"
        why = ""
        handing = _handed.set(Handed(rows, self._finish_with_run(held)))
        returned = False
        try:
            with stop.scope(held.token):
                self.execute(job)
            returned = True
        except WorkflowError as exc:  # nothing to resume, busy elsewhere: the job is void
            status = "failed"
            why = "" if isinstance(exc, RunBusy) else str(exc)  # busy: another executes it
            self.store.add_event(job.run_id, "error", f"{job.action} not done: {exc}")
        except Exception as exc:
            status, why = "failed", f"{type(exc).__name__}: {exc}"
            logger.exception("worker %s: job %s (%s) failed", self.name, job.id, job.action)
        finally:
            _handed.reset(handing)
            if not returned:  # the ending's transaction may not have committed
                held.finished = False
            with self._lock:
                self._state.held.pop(job.id, None)
            ended = self._end(held, status, why)
            with self._lock:
                self._state.done.append(Done(job, ended))
        return ended

    def _finish_with_run(self, held: Held) -> Callable[[Connection], None] | None:
        """What finishes ``held``'s job in the transaction that records how its run ended
        (``workflow.runner._record_ending``, when nothing follows the ending): one commit
        fewer a run, and a crash leaves the run ended with its job finished, or neither.
        Only when the queue is the store's own table; not for a job cancelled, handed back or
        lost meanwhile (``_end`` decides those after the run). ``held.finished`` says it was
        finished (trusted once the run returned: its transaction committed)."""
        queue = self.queue
        if not isinstance(queue, StoreRunQueue) or queue.engine is not self.store.engine:
            return None

        def finish(conn: Connection) -> None:
            if not (held.cancelled or held.handing_back or held.lost):
                held.finished = queue.finish_in(conn, held.job, "done")

        return finish

    def _end(self, held: Held, status: Ending, why: str = "") -> str:
        job = held.job
        if status == "failed" and job.action == "start" and why:
            _fail_unstarted(self.store, job.run_id, why)
        if held.cancelled:
            self.store.update_run(job.run_id, status="cancelled", reason="cancelled on request")
            self.store.add_event(job.run_id, "run", f"run {job.run_id} cancelled")
            status = "cancelled"
        if held.finished:  # with the run's ending (a renewal after it finds the job ended)
            return status
        if held.lost:
            return "lost"
        run_status = ""
        if held.handing_back:  # a run stopped by the shutdown: hand its job back
            with contextlib.suppress(StoreError):
                run_status = self.store.get_run(job.run_id).status
        try:
            if held.handing_back and run_status == "interrupted":
                self.queue.release(job)
                return "released"
            if not self.queue.finish(job, status):
                return "lost"
        except Exception:  # the queue is away: the lease runs out and another worker retries
            logger.exception("worker %s could not end job %s", self.name, job.id)
            return "unacked"
        return status


def _ids(job: Job, rows: tuple[Run, Project] | None) -> dict[str, str | None]:
    """What a job's log lines carry: its run, the run's project and tenant."""
    if rows is None:  # no such run (the job is void), or the store is away
        return {"run_id": job.run_id, "tenant_id": job.tenant}
    project = rows[1]
    return {"run_id": job.run_id, "project_id": project.id, "tenant_id": project.tenant_id}


def _fail_unstarted(store: Store, run_id: str, why: str) -> None:
    """A start job that failed before its run began leaves the run ``failed`` with the
    reason, not ``queued`` for ever (nothing would take it again)."""
    try:
        if store.get_run(run_id).status not in ("queued", "created"):
            return  # it began: the runner recorded how it ended
        reason = f"the run could not start: {why or 'the worker failed'}"[:2000]
        store.update_run(run_id, status="failed", reason=reason)
        store.add_event(run_id, "run", f"run {run_id} failed: {reason}")
    except Exception:  # the store is away: the run stays queued, the log says why
        logger.exception("could not record that run %s did not start", run_id)


def requeue_orphans(
    orphans: list[str],
    store: Store,
    queue: RunQueue,
    leases: RunLease | None = None,
    judged: Mapping[str, Lease | None] | None = None,
) -> list[str]:
    """Queue a resume of each run in ``orphans`` (stored as running, its executor gone), once
    per orphaning, ahead of new work (``ORPHAN_PRIORITY``). The enqueue key names the run and
    the orphaning: the token and last heartbeat of the dead holder's lease (from ``leases``), so
    every worker that notices the same orphan queues the same job, and a run orphaned again is
    queued again:

    - even when the worker that took it over died before it wrote anything (keyed by the run's
      event count, as it was, that second orphaning reused the first one's job, held by the dead
      worker, and waited out its queue lease: 35 s in the fleet test);
    - even when its holder was only late: a holder starved past its lease's expiry (a loaded
      host) whose renewal then came through makes the resume queued meanwhile end ``RunBusy``;
      keyed by the token alone, that holder's real death later reused the finished job, and
      nothing resumed the run for 40 s in the fleet test. The heartbeat is stored by the lease
      server and changes with every renewal, so it tells the two expiries apart.

    ``judged``: the lease each run was found orphaned by (``jobs.worker.orphaned_leases``),
    keyed instead of the lease read again here: a worker that took the run over in between
    holds a live lease, and a resume keyed by it ends busy and takes that key, so the new
    holder's own death later reused the ended job and stranded the run (the fleet test, when
    its second kill hit the worker that had just taken the first one's run over).

    A run without a lease is keyed by its event count. Returns the runs queued."""
    queued = []
    for run_id in orphans:
        try:
            run = store.get_run(run_id)
            tenant = store.get_project(run.project_id).tenant_id
            if judged is not None and run_id in judged:
                lease = judged[run_id]
            else:
                lease = leases.inspect(run_id) if leases is not None else None
            how_far = (
                f"t{lease.token}.{round(lease.heartbeat_at * 1000)}"
                if lease is not None
                else str(len(store.events(run_id)))
            )
        except StoreError:
            continue
        key = f"recover:{run_id}:{how_far}"
        queue.enqueue(run_id, "resume", tenant=tenant, priority=ORPHAN_PRIORITY, key=key)
        queued.append(run_id)
    return queued
