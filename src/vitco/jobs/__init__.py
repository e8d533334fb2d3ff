"""Jobs: who executes which run; picking up runs whose executor died."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vitco._lazy import exports
from vitco.jobs.worker import Recovered, orphaned_runs, recover

_LAZY = {
    "EmbeddedWorker": "vitco.jobs.embedded",
    "BadJob": "vitco.jobs.exceptions",
    "Job": "vitco.jobs.queue",
    "QueueError": "vitco.jobs.exceptions",
    "QueueStats": "vitco.jobs.queue",
    "QueueUnavailable": "vitco.jobs.exceptions",
    "RedisRunQueue": "vitco.jobs.redis_queue",
    "RunQueue": "vitco.jobs.queue",
    "StoreRunQueue": "vitco.jobs.queue",
    "open_queue": "vitco.jobs.queue",
}
__getattr__ = exports(__name__, _LAZY)

if TYPE_CHECKING:
    from vitco.jobs.embedded import EmbeddedWorker as EmbeddedWorker
    from vitco.jobs.exceptions import BadJob as BadJob
    from vitco.jobs.exceptions import QueueError as QueueError
    from vitco.jobs.exceptions import QueueUnavailable as QueueUnavailable
    from vitco.jobs.queue import Job as Job
    from vitco.jobs.queue import QueueStats as QueueStats
    from vitco.jobs.queue import RunQueue as RunQueue
    from vitco.jobs.queue import StoreRunQueue as StoreRunQueue
    from vitco.jobs.queue import open_queue as open_queue
    from vitco.jobs.redis_queue import RedisRunQueue as RedisRunQueue

__all__ = [
    "BadJob",
    "EmbeddedWorker",
    "Job",
    "QueueError",
    "QueueStats",
    "QueueUnavailable",
    "Recovered",
    "RedisRunQueue",
    "RunQueue",
    "StoreRunQueue",
    "open_queue",
    "orphaned_runs",
    "recover",
]
