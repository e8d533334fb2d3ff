"""Jobs: who executes which run; picking up runs whose executor died."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vitco._lazy import exports
from vitco.jobs.worker import Recovered, orphaned_runs, recover

_LAZY = {
    "EmbeddedWorker": "vitco.jobs.embedded",
    "Job": "vitco.jobs.queue",
    "RunQueue": "vitco.jobs.queue",
    "StoreRunQueue": "vitco.jobs.queue",
}
__getattr__ = exports(__name__, _LAZY)

if TYPE_CHECKING:
    from vitco.jobs.embedded import EmbeddedWorker as EmbeddedWorker
    from vitco.jobs.queue import Job as Job
    from vitco.jobs.queue import RunQueue as RunQueue
    from vitco.jobs.queue import StoreRunQueue as StoreRunQueue

__all__ = [
    "EmbeddedWorker",
    "Job",
    "Recovered",
    "RunQueue",
    "StoreRunQueue",
    "orphaned_runs",
    "recover",
]
