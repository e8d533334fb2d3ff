"""The worker: resumes runs whose executing process died.

A run being executed holds its lease (``vitco.leases``, taken by
``workflow.checkpoints.run_lock`` for the whole execution and renewed every third of
``lease_ttl_s``). A run stored as ``running`` is orphaned when:

- its lease has expired (the holder stopped renewing: killed, its host lost, cut off), on the
  lease server's clock, so hosts' clocks do not matter;
- or its holder is a process of this machine that is gone (``lease_local_takeover``; see
  ``vitco.leases.owner``): no need to wait out the lease after a local ``kill -9``;
- or it has no lease at all and nothing happened in it (no event, no start) for
  ``lease_ttl_s``: a run left ``running`` by a vitco from before leases (a database upgraded in
  place), or by a process that died between storing the run and taking its lease. That one
  compares the run's last event time with this host's clock: there is no lease to ask.

A holder that is alive but paused is not orphaned until its lease expires; if it wakes up
after another took the run over, the store's fence refuses its writes.

``recover`` resumes every orphaned run from its last checkpoint (the ledger journal, the
idempotency keys and the fence make that safe); a run another worker took meanwhile is
skipped (``RunBusy``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from vitco.config import Settings
from vitco.leases import Lease, RunLease, open_leases
from vitco.leases.owner import dead_here
from vitco.store import Store
from vitco.store.models import Run, utcnow
from vitco.workflow.exceptions import RunBusy, WorkflowError
from vitco.workflow.runner import Outcome

if TYPE_CHECKING:
    from vitco.jobs.queue import RunQueue

ACTIVE = ("running",)


@dataclass(frozen=True)
class Recovered:
    run_id: str
    status: str
    reason: str | None


def orphaned_runs(settings: Settings, store: Store, leases: RunLease | None = None) -> list[str]:
    """Runs stored as running whose executor is gone (see the module docstring); ``leases``:
    the backend (default: the one the settings choose)."""
    return list(orphaned_leases(settings, store, leases))


def orphaned_leases(
    settings: Settings, store: Store, leases: RunLease | None = None
) -> dict[str, Lease | None]:
    """``orphaned_runs``, each with the lease it was found orphaned by (None: no lease)."""
    leases = leases if leases is not None else open_leases(settings, store.engine)
    found: dict[str, Lease | None] = {}
    for run in store.runs(statuses=ACTIVE):  # not every run ever, every watch of every worker
        lease = leases.inspect(run.id)
        if lease is None:
            if _idle_for(store, run, settings.lease_ttl_s):
                found[run.id] = None
        elif not lease.live or (settings.lease_local_takeover and dead_here(lease.owner)):
            found[run.id] = lease
    return found


def scan_orphans(settings: Settings, store: Store, queue: RunQueue) -> list[str]:
    """Queue a resume of every orphaned run, ahead of new work (``requeue_orphans``); the
    one way ``vitco worker`` and the worker inside ``vitco serve`` take runs over."""
    from vitco.jobs.embedded import requeue_orphans

    leases = open_leases(settings, store.engine)
    found = orphaned_leases(settings, store, leases)
    return requeue_orphans(list(found), store, queue, leases, judged=found)


def _idle_for(store: Store, run: Run, seconds: float) -> bool:
    """Whether nothing happened in the run (no event, no start) for ``seconds``. Its events are
    read only when its own times are that old: a run started since cannot have been idle so
    long, and most runs a scan finds without a lease have just ended (their lease given back
    between the scan's read of the runs and its look at the lease)."""
    last: datetime = max(t for t in (run.started_at, run.created_at) if t)
    if (utcnow() - last).total_seconds() < seconds:
        return False
    event = store.last_event_at(run.id)
    if event is not None:
        last = max(last, event)
    return (utcnow() - last).total_seconds() >= seconds


def recover(
    settings: Settings,
    store: Store,
    resume: Callable[[str], Outcome],
    leases: RunLease | None = None,
) -> list[Recovered]:
    """Resume every orphaned run once with ``resume`` (the composition root's, which builds
    what a run needs); returns how each ended. A run another worker took in the meantime is
    skipped."""
    results = []
    for run_id in orphaned_runs(settings, store, leases):
        try:
            outcome = resume(run_id)
        except RunBusy:
            continue
        except WorkflowError as exc:
            results.append(Recovered(run_id, "error", str(exc)))
            continue
        outcome.stop()
        report = outcome.report
        results.append(Recovered(run_id, report["status"], report.get("reason")))
    return results
