"""The worker: resumes runs whose executing process died.

A run being executed holds its lease: the ``flock`` that ``workflow.checkpoints.run_lock`` takes
for the whole execution. The kernel releases it the moment the holder dies, even by ``kill -9``,
so "the lease expired" is observable without clocks or heartbeats: a run stored as ``running``
whose lock can be taken has no executor. ``recover`` resumes every such run from its last
checkpoint (the ledger journal and idempotency keys make that safe). This is the embedded,
one-machine lease; the distributed queue puts the same contract on Redis.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable
from dataclasses import dataclass

from vitco.config import Settings
from vitco.store import Store
from vitco.workflow.exceptions import RunBusy, WorkflowError
from vitco.workflow.runner import Outcome

ACTIVE = ("running",)


@dataclass(frozen=True)
class Recovered:
    run_id: str
    status: str
    reason: str | None


def _lease_is_free(settings: Settings, run_id: str) -> bool:
    path = settings.home / "locks" / f"{run_id}.lock"
    if not path.exists():
        return True
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(fh, fcntl.LOCK_UN)
        return True


def orphaned_runs(settings: Settings, store: Store) -> list[str]:
    """Runs stored as running whose executor is gone (their lease is free)."""
    return [
        run.id for run in store.runs() if run.status in ACTIVE and _lease_is_free(settings, run.id)
    ]


def recover(settings: Settings, store: Store, resume: Callable[[str], Outcome]) -> list[Recovered]:
    """Resume every orphaned run once with ``resume`` (the composition root's, which builds
    what a run needs); returns how each ended. A run another worker took in the meantime is
    skipped."""
    results = []
    for run_id in orphaned_runs(settings, store):
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
