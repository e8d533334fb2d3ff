"""An orphaned run's resume goes before the queue's backlog of new runs, on both queues, and a
worker whose slots are all busy still takes it at once, in its takeover slot: the takeover
bound (within 15 s of a worker's death) holds only if a resume waits neither its turn behind
every start queued before it nor for a run to end somewhere."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.store.statements import sent
from vitco.jobs.embedded import EmbeddedWorker, requeue_orphans
from vitco.jobs.queue import Job, RunQueue, StoreRunQueue
from vitco.jobs.redis_queue import RedisRunQueue
from vitco.leases.sql import SqlRunLease
from vitco.store import Store, open_database


@pytest.fixture(params=["store", "redis"])
def queue(request: pytest.FixtureRequest, store: Store) -> RunQueue:
    if request.param == "store":
        return StoreRunQueue(store.sessions)
    client: Any = request.getfixturevalue("redis_client")
    return RedisRunQueue(client, prefix=request.getfixturevalue("redis_prefix"))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(open_database(f"sqlite:///{tmp_path / 'orphans.sqlite'}"))


def _run(store: Store, tenant: str) -> str:
    project = store.create_project(f"p-{uuid.uuid4().hex[:6]}", "/nonexistent", tenant_id=tenant)
    brief = store.create_brief(project.id, "brief.md", "# P\n")
    run = store.create_run(project.id, brief.id, "test", "deliver-project")
    store.update_run(run.id, status="running")
    return run.id


def test_an_orphans_resume_is_taken_before_queued_starts(store: Store, queue: RunQueue) -> None:
    backlog = [_run(store, "acme") for _ in range(5)]
    for run_id in backlog:  # queued first, by the tenant that also owns the orphan
        queue.enqueue(run_id, "start", tenant="acme")
    orphan = _run(store, "acme")
    assert requeue_orphans([orphan], store, queue) == [orphan]
    assert requeue_orphans([orphan], store, queue) == [orphan]  # a second worker noticed too

    first = queue.take("w1", 5)
    assert first is not None
    assert (first.run_id, first.action) == (orphan, "resume")
    taken = [queue.take("w1", 5) for _ in backlog]
    assert [(j.run_id, j.action) for j in taken if j] == [(r, "start") for r in backlog]
    assert queue.take("w1", 5) is None  # the orphan was queued once


def test_a_worker_with_every_slot_busy_takes_orphans_over_at_once(
    store: Store, queue: RunQueue
) -> None:
    busy = [_run(store, "acme") for _ in range(2)]
    waiting = _run(store, "acme")
    orphans = [_run(store, "acme") for _ in range(2)]
    for run_id in [*busy, waiting]:
        queue.enqueue(run_id, "start", tenant="acme")
    started: list[tuple[str, str]] = []
    release = threading.Event()
    dead: list[str] = []  # the runs the watch finds orphaned

    def execute(job: Job) -> None:
        started.append((job.run_id, job.action))
        release.wait(30)

    worker = EmbeddedWorker(
        queue,
        store,
        execute,
        concurrency=2,
        poll_s=0.05,
        watch=lambda: requeue_orphans(dead, store, queue),
    )
    worker.start()
    try:
        _until(lambda: sorted(started) == sorted((r, "start") for r in busy))
        dead += orphans  # their workers died: both are taken over while both slots are busy
        _until(lambda: all((r, "resume") in started for r in orphans))
        time.sleep(0.3)
        assert (waiting, "start") not in started  # a taker takes no start
        assert len(started) == 4
        dead.clear()
        release.set()
        _until(lambda: (waiting, "start") in started)
    finally:
        release.set()
        worker.drain()
        assert worker.wait(10)
    assert worker.recovered[:2] == orphans


def _until(check: object, within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.02)


def test_a_run_orphaned_again_before_it_wrote_anything_is_queued_again(
    store: Store, queue: RunQueue
) -> None:
    leases = SqlRunLease(store.engine)
    orphan = _run(store, "acme")
    first = leases.acquire(orphan, "host-a/m/100-1/n1", 0.3)  # its worker, which dies
    assert first is not None
    time.sleep(0.4)
    assert requeue_orphans([orphan], store, queue, leases) == [orphan]
    assert requeue_orphans([orphan], store, queue, leases) == [orphan]  # noticed twice: one job
    taken = queue.take("taker-b", 30)
    assert taken is not None and taken.run_id == orphan
    assert queue.take("other", 30) is None
    # b's taker takes the run's lease and dies before it writes a single event
    second = leases.acquire(orphan, "host-b/m/200-1/n2", 0.3)
    assert second is not None and second.token == first.token + 1
    time.sleep(0.4)
    requeue_orphans([orphan], store, queue, leases)
    again = queue.take("taker-c", 30)  # a new job at once, not b's, held until its lease ends
    assert again is not None and again.run_id == orphan and again.id != taken.id


def test_a_late_holder_that_renewed_and_then_died_is_queued_again(
    store: Store, queue: RunQueue
) -> None:
    """A holder starved past its lease's expiry is seen orphaned; its renewal then comes
    through, so the resume queued meanwhile finds the run busy and ends. When that holder then
    really dies, its run is queued again at once (keyed by the token alone, the second orphaning
    reused the finished job: 40 s with no resume in the fleet test)."""
    leases = SqlRunLease(store.engine)
    orphan = _run(store, "acme")
    late = leases.acquire(orphan, "host-a/m/100-1/n1", 0.3)
    assert late is not None
    time.sleep(0.4)  # its renewal is late: the lease has expired
    assert requeue_orphans([orphan], store, queue, leases) == [orphan]
    busy = queue.take("taker-b", 30)
    assert busy is not None and busy.run_id == orphan
    renewed = leases.renew(late, 0.3)  # nobody took the lease since: the renewal succeeds
    assert renewed is not None and renewed.token == late.token
    assert queue.finish(busy, "failed")  # the taker found the run busy (RunBusy) and ended
    time.sleep(0.4)  # now the holder is dead for good
    assert requeue_orphans([orphan], store, queue, leases) == [orphan]
    again = queue.take("taker-c", 30)
    assert again is not None and again.run_id == orphan and again.id != busy.id
    assert (again.action, again.priority) == ("resume", busy.priority)


def test_a_run_taken_over_after_it_was_found_orphaned_is_queued_when_its_new_holder_dies(
    store: Store, queue: RunQueue
) -> None:
    """A worker finds a run orphaned (its holder's lease expired), another takes the run over
    before the first queues the resume, and that new holder dies before it renews: the run is
    queued again once the new holder's lease expires. (Keyed by the lease read at queueing,
    the first resume took the new holder's key, found the run busy and ended, and the new
    holder's death then reused that ended job: the fleet test saw the run stranded.)"""
    leases = SqlRunLease(store.engine)
    orphan = _run(store, "acme")
    first = leases.acquire(orphan, "host-a/m/100-1/n1", 0.3)  # its worker, which dies
    assert first is not None
    time.sleep(0.4)
    judged = {orphan: leases.inspect(orphan)}  # worker c finds it orphaned
    second = leases.acquire(orphan, "host-b/m/200-1/n2", 0.3)  # b takes it over, then dies
    assert second is not None and second.token == first.token + 1
    assert requeue_orphans([orphan], store, queue, leases, judged=judged) == [orphan]
    busy = queue.take("taker-c", 30)  # b holds the run: this resume ends busy
    assert busy is not None and busy.run_id == orphan
    assert queue.finish(busy, "failed")
    time.sleep(0.4)  # b's lease expires: b is dead
    judged = {orphan: leases.inspect(orphan)}  # found orphaned again, by b's lease now
    assert requeue_orphans([orphan], store, queue, leases, judged=judged) == [orphan]
    again = queue.take("taker-d", 30)
    assert again is not None and again.run_id == orphan and again.id != busy.id


def test_a_scan_reads_a_leaseless_runs_events_only_once_it_could_have_been_idle_so_long(
    store: Store, tmp_path: Path
) -> None:
    """Most runs a scan finds without a lease have just ended (their lease given back between
    the scan's read of the runs and its look at the lease): their own times show they cannot
    have been idle for the lease's ttl, so their events are not read. A run whose own times
    are older is judged by its last event."""
    from datetime import timedelta

    from vitco.config import Settings
    from vitco.jobs.worker import orphaned_leases
    from vitco.store.models import utcnow

    settings = Settings(home=tmp_path / "home", lease_ttl_s=60)
    leases = SqlRunLease(store.engine)
    with sent(store.engine) as statements:
        fresh = _run(store, "acme")
        assert orphaned_leases(settings, store, leases) == {}
        assert not [s for s, _ in statements if "events" in s]

        old = utcnow() - timedelta(seconds=120)
        quiet, busy = _run(store, "acme"), _run(store, "acme")
        for run_id in (quiet, busy):
            store.update_run(run_id, created_at=old, started_at=old)
        store.add_event(busy, "step", "it is still writing")
        statements.clear()
        assert orphaned_leases(settings, store, leases) == {quiet: None}
        assert len([s for s, _ in statements if "events" in s]) == 2  # quiet's and busy's
    assert fresh not in orphaned_leases(settings, store, leases)
