"""An idle worker on the Redis queue takes a job another process queued (or handed back) when
it is queued, not at its next poll: the enqueue and release scripts publish on the queue's
channel and the worker listens (``RunQueue.listen``). The same on the store's queue on
PostgreSQL (``NOTIFY`` at the enqueue's or release's commit, a ``LISTEN`` of the worker's own,
on a channel of the schema: a neighbouring schema's queue wakes nobody here), and on a SQLite
file (the worker watches the file's write-ahead log, where another process's commit lands).
The workers here poll once an hour, so a job they take within the test's wait was heard of;
another client of the same server, or another process on the same file, queues it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import redis
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from vitco.jobs.embedded import EmbeddedWorker
from vitco.jobs.queue import Job, StoreRunQueue
from vitco.jobs.redis_queue import RedisRunQueue
from vitco.store import Store, open_database
from vitco.store.db import close_databases, create

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


def _run(store: Store) -> str:
    """A run for a job to name (the store's queue keeps jobs of stored runs)."""
    project = store.create_project("wake", "/nonexistent")
    brief = store.create_brief(project.id, "brief.md", "# Wake\n")
    return store.create_run(project.id, brief.id, "test", "deliver-project").id


def _pg_queue(url: str) -> tuple[StoreRunQueue, Engine]:
    """The store's queue on ``url`` through an engine of its own: another process's."""
    engine = create(url)
    return StoreRunQueue(sessionmaker(engine)), engine


def test_on_postgresql_an_idle_worker_hears_of_a_job_queued_or_handed_back_elsewhere(
    postgres_url: str,
) -> None:
    store = Store(open_database(postgres_url))
    taken: list[Job] = []
    seen = threading.Event()

    def execute(job: Job) -> None:
        taken.append(job)
        seen.set()

    worker = EmbeddedWorker(StoreRunQueue(store.sessions), store, execute, poll_s=HOUR, lease_s=30)
    other, engine = _pg_queue(postgres_url)
    try:
        handed = other.enqueue(_run(store), "start")
        held = other.take("a-worker-shutting-down", 30)
        assert held is not None and held.id == handed
        worker.start()
        assert not seen.wait(1.0)  # nothing takeable: the worker waits its hour
        first = other.enqueue(_run(store), "start")
        assert seen.wait(WAIT), "the worker did not hear of the job queued elsewhere"
        seen.clear()
        assert other.release(held)
        assert seen.wait(WAIT), "the worker did not hear of the job handed back"
        assert sorted(j.id for j in taken) == sorted([first, handed])
    finally:
        worker.close(5)
        engine.dispose()


ELSEWHERE = """
import sys
from vitco.jobs.queue import Job, StoreRunQueue
from vitco.store import open_database
queue = StoreRunQueue(open_database(sys.argv[1]))
for line in sys.stdin:
    command, *args = line.split()
    if command == "enqueue":
        print(queue.enqueue(args[0], "start"), flush=True)
    else:
        job = Job(int(args[0]), args[1], "start", None, attempt=int(args[2]))
        print(queue.release(job), flush=True)
"""


def test_on_sqlite_an_idle_worker_hears_of_a_job_another_process_queued_or_handed_back(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'wake.sqlite'}"
    store = Store(open_database(url))
    queue = StoreRunQueue(store.sessions)
    taken: list[Job] = []
    seen = threading.Event()

    def execute(job: Job) -> None:
        taken.append(job)
        seen.set()

    handed = queue.enqueue(_run(store), "start")
    held = StoreRunQueue(store.sessions).take("a-worker-shutting-down", 30)
    assert held is not None and held.id == handed
    worker = EmbeddedWorker(queue, store, execute, poll_s=HOUR, lease_s=30)
    with subprocess.Popen(
        [sys.executable, "-c", ELSEWHERE, url],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    ) as elsewhere:  # fmt: skip
        assert elsewhere.stdin is not None and elsewhere.stdout is not None

        def ask(line: str) -> str:
            assert elsewhere.stdin is not None and elsewhere.stdout is not None
            elsewhere.stdin.write(line + "\n")
            elsewhere.stdin.flush()
            return elsewhere.stdout.readline().strip()

        worker.start()
        try:
            assert not seen.wait(1.0)  # nothing takeable: the worker waits its hour
            first = int(ask(f"enqueue {_run(store)}"))
            assert seen.wait(WAIT), "the worker did not hear of the job queued elsewhere"
            seen.clear()
            assert ask(f"release {held.id} {held.run_id} {held.attempt}") == "True"
            assert seen.wait(WAIT), "the worker did not hear of the job handed back"
            assert [j.id for j in taken] == [first, handed]
        finally:
            worker.close(5)
            elsewhere.stdin.close()
        assert elsewhere.wait(30) == 0


def test_on_postgresql_a_queue_hears_only_its_own_schema(
    postgres_url: str, postgres_server: str
) -> None:
    store = Store(open_database(postgres_url))
    heard = threading.Event()
    stop = StoreRunQueue(sessionmaker(create(postgres_url))).listen(heard.set)
    neighbour_schema = f"t_{uuid.uuid4().hex[:10]}"
    plain = postgres_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{neighbour_schema}"')
    neighbour_url = f"{postgres_server}?options=-csearch_path%3D{neighbour_schema}"
    try:
        assert heard.wait(WAIT)  # listening: it looks once for what came before
        heard.clear()
        theirs = Store(open_database(neighbour_url))
        StoreRunQueue(theirs.sessions).enqueue(_run(theirs), "start")
        assert not heard.wait(2.0), "a queue in another schema woke this one"
        mine, engine = _pg_queue(postgres_url)
        mine.enqueue(_run(store), "start")
        assert heard.wait(WAIT)
        engine.dispose()
    finally:
        stop()
        close_databases(neighbour_url)
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{neighbour_schema}" CASCADE')


def test_on_sqlite_a_stopped_listener_hears_nothing_more(tmp_path: Path) -> None:
    store = Store(open_database(f"sqlite:///{tmp_path / 'quiet.sqlite'}"))
    queue = StoreRunQueue(store.sessions)
    run = _run(store)
    heard = threading.Event()
    stop = queue.listen(heard.set)
    assert heard.wait(WAIT)  # once as it starts: what was queued before went unheard
    heard.clear()
    queue.enqueue(run, "start")
    assert heard.wait(WAIT)
    stop()
    time.sleep(0.2)  # a look that was under way when it stopped
    heard.clear()
    queue.enqueue(run, "resume")
    assert not heard.wait(0.5)


def test_on_sqlite_in_memory_nothing_is_heard() -> None:
    queue = StoreRunQueue(sessionmaker(create("sqlite://")))
    heard = threading.Event()
    stop = queue.listen(heard.set)
    assert not heard.wait(0.2)  # no file to watch: its consumers poll
    stop()


class _CountingQueue(StoreRunQueue):
    """The store's queue, counting its takes, deaf to other processes (only ``notify`` wakes
    its worker here)."""

    takes = 0
    _counting = threading.Lock()

    def listen(self, wake: Any) -> Any:
        return lambda: None

    def take(self, *args: Any, **kwargs: Any) -> Job | None:
        with self._counting:
            self.takes += 1
        return super().take(*args, **kwargs)


def test_a_job_queued_here_wakes_one_idle_slot_not_all(tmp_path: Path) -> None:
    """Four idle slots, one job queued with ``notify``: the slot that takes it wakes the next
    (there may be more), and that one finds nothing. Waking every idle slot made three of
    them look for nothing."""
    store = Store(open_database(f"sqlite:///{tmp_path / 'wake.sqlite'}"))
    queue = _CountingQueue(store.sessions)
    running, release = threading.Event(), threading.Event()

    def execute(job: Job) -> None:
        running.set()
        release.wait(WAIT)

    worker = EmbeddedWorker(queue, store, execute, concurrency=4, poll_s=HOUR, lease_s=30)
    worker.start()
    try:
        assert _until(lambda: queue.takes == 4)  # each slot looked once and found nothing
        queue.enqueue(_run(store), "start")
        worker.notify()
        assert running.wait(WAIT)
        assert _until(lambda: queue.takes == 6)  # the taker's, and the next slot's
        release.set()
        assert _until(lambda: len(worker.done()) == 1)
        assert _until(lambda: queue.takes == 7)  # its slot, free again, looks once more
    finally:
        release.set()
        worker.close(5)
    assert queue.takes == 7  # and nobody else looked: every idle slot woken made it 9


def _until(condition: Any, timeout: float = WAIT) -> bool:
    deadline = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return True
        deadline.wait(0.01)
    return bool(condition())
