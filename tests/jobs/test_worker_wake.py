"""An idle worker on the Redis queue takes a job another process queued (or handed back) when
it is queued, not at its next poll: the enqueue and release scripts publish on the queue's
channel and the worker listens (``RunQueue.listen``). The workers here poll once an hour, so a
job they take within the test's wait was heard of; another client of the same server stands
for the other process."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import redis

from vitco.jobs.embedded import EmbeddedWorker
from vitco.jobs.queue import Job
from vitco.jobs.redis_queue import RedisRunQueue
from vitco.store import Store, open_database

HOUR = 3600.0
WAIT = 30.0  # far below a poll: only a wake-up takes the job within it


def _worker(queue: RedisRunQueue, store: Store, taken: list[Job], seen: threading.Event) -> Any:
    def execute(job: Job) -> None:
        taken.append(job)
        seen.set()

    return EmbeddedWorker(queue, store, execute, poll_s=HOUR, lease_s=30)


def _other_process(redis_prefix: str) -> RedisRunQueue:
    client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=3)
    return RedisRunQueue(client, prefix=redis_prefix)


def test_an_idle_worker_takes_a_job_queued_elsewhere_at_once_not_at_its_next_poll(
    redis_client: Any, redis_prefix: str, tmp_path: Path
) -> None:
    store = Store(open_database(f"sqlite:///{tmp_path / 'wake.sqlite'}"))
    taken: list[Job] = []
    seen = threading.Event()
    worker = _worker(RedisRunQueue(redis_client, prefix=redis_prefix), store, taken, seen)
    worker.start()
    other = _other_process(redis_prefix)
    try:
        assert worker.queue.stats().depth == 0  # its slot found nothing: it waits its poll
        first = other.enqueue("r-first", "start")
        assert seen.wait(WAIT), "the worker did not hear of the job queued elsewhere"
        assert [j.id for j in taken] == [first]

        seen.clear()  # and the next, once it is idle again
        second = other.enqueue("r-second", "start")
        assert seen.wait(WAIT)
        assert [j.id for j in taken] == [first, second]
    finally:
        worker.close(5)
        other.client.close()


def test_a_release_elsewhere_wakes_the_idle_worker(
    redis_client: Any, redis_prefix: str, tmp_path: Path
) -> None:
    store = Store(open_database(f"sqlite:///{tmp_path / 'wake.sqlite'}"))
    other = _other_process(redis_prefix)
    job_id = other.enqueue("r-handed-back", "start")
    held = other.take("a-worker-shutting-down", 30)
    assert held is not None and held.id == job_id
    taken: list[Job] = []
    seen = threading.Event()
    worker = _worker(RedisRunQueue(redis_client, prefix=redis_prefix), store, taken, seen)
    worker.start()
    try:
        assert not seen.wait(0.5)  # nothing takeable: the worker waits its hour
        assert other.release(held)
        assert seen.wait(WAIT), "the worker did not hear of the job handed back"
        assert [j.id for j in taken] == [job_id]
    finally:
        worker.close(5)
        other.client.close()
