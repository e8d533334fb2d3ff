"""One conformance suite for every ``RunQueue``: the store's table on SQLite and PostgreSQL,
and Redis. Leases are real (short visibility timeouts, real waits of a fraction of a second):
the Redis queue keeps time by the server's clock, which a test cannot fake."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from vitco.jobs.exceptions import BadJob
from vitco.jobs.queue import RunQueue, StoreRunQueue
from vitco.jobs.redis_queue import RedisRunQueue
from vitco.store import Store, open_database

LEASE = 0.4  # seconds: long enough for a test's few calls, short enough to wait out


@dataclass
class Case:
    queue: RunQueue
    run: Callable[[str], str]  # a run of a tenant, as the backend needs one to exist


def _store_case(url: str) -> Case:
    store = Store(open_database(url))

    def run(tenant: str) -> str:
        project = store.create_project(f"q-{tenant}", "/nonexistent", tenant_id=tenant)
        brief = store.create_brief(project.id, "brief.md", "# Q\n")
        return store.create_run(project.id, brief.id, "test", "deliver-project").id

    return Case(StoreRunQueue(store.sessions), run)


@pytest.fixture(params=["store-sqlite", "store-postgres", "redis"])
def case(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Case]:
    if request.param == "store-sqlite":
        yield _store_case(f"sqlite:///{tmp_path / 'queue.sqlite'}")
    elif request.param == "store-postgres":
        yield _store_case(request.getfixturevalue("postgres_url"))
    else:
        client = request.getfixturevalue("redis_client")
        prefix = request.getfixturevalue("redis_prefix")
        yield Case(
            RedisRunQueue(client, prefix=prefix), lambda tenant: f"r-{uuid.uuid4().hex[:12]}"
        )


def test_enqueue_take_finish(case: Case) -> None:
    q, run = case.queue, case.run("default")
    job_id = q.enqueue(run, "answer", {"approved": True})
    job = q.take("w1", LEASE)
    assert job is not None
    assert (job.id, job.run_id, job.action, job.payload) == (
        job_id,
        run,
        "answer",
        {"approved": True},
    )
    assert job.attempt == 1
    assert q.take("w2", LEASE) is None  # held: nobody else gets it
    assert q.stats().taken == 1
    assert q.finish(job, "done")
    assert not q.finish(job, "done")  # acked once
    assert q.stats().taken == 0
    time.sleep(LEASE + 0.2)
    assert q.take("w2", LEASE) is None  # a finished job never comes back


def test_a_lease_that_runs_out_is_taken_over_and_the_old_holder_is_fenced_off(case: Case) -> None:
    q, run = case.queue, case.run("default")
    q.enqueue(run, "start")
    first = q.take("dead-worker", LEASE)
    assert first is not None
    time.sleep(LEASE + 0.2)
    second = q.take("live-worker", LEASE)
    assert second is not None and second.id == first.id and second.attempt == first.attempt + 1
    # the first holder wakes up: its renew, ack and hand-back are refused
    assert not q.renew(first, LEASE)
    assert not q.finish(first, "done")
    assert not q.release(first)
    assert q.finish(second, "done")


def test_renewing_keeps_the_job(case: Case) -> None:
    q, run = case.queue, case.run("default")
    q.enqueue(run, "start")
    job = q.take("w1", LEASE)
    assert job is not None
    for _ in range(4):  # held for well over one lease, renewed at half of it
        time.sleep(LEASE / 2)
        assert q.renew(job, LEASE)
        assert q.take("w2", LEASE) is None
    assert q.finish(job)


def test_release_hands_the_job_back_at_once(case: Case) -> None:
    q, run = case.queue, case.run("default")
    q.enqueue(run, "resume")
    job = q.take("stopping-worker", 60)
    assert job is not None and q.release(job)
    again = q.take("other-worker", 60)
    assert again is not None and again.id == job.id and again.attempt == job.attempt + 1
    assert not q.finish(job)


def test_higher_priority_first_then_first_in_first_out(case: Case) -> None:
    q, run = case.queue, case.run("default")
    low = q.enqueue(run, "start", priority=-5)
    first = q.enqueue(run, "resume")
    urgent = q.enqueue(run, "answer", {"approved": True}, priority=10)
    second = q.enqueue(run, "resume")
    taken = [q.take("w", 60) for _ in range(4)]
    assert [j.id for j in taken if j] == [urgent, first, second, low]
    assert q.take("w", 60) is None


def test_a_take_with_a_least_priority_leaves_the_lower_jobs(case: Case) -> None:
    q = case.queue
    run, other = case.run("default"), case.run("other")
    low = q.enqueue(run, "start")
    assert q.take("reserve", 60, least=100) is None  # nothing urgent: nothing taken
    urgent = q.enqueue(other, "resume", tenant="other", priority=100)
    taken = q.take("reserve", 60, least=100)
    assert taken is not None and taken.id == urgent
    assert q.take("reserve", 60, least=100) is None
    # a held urgent job whose lease ran out is taken over by a reserve take too
    short = q.take("w", LEASE)
    assert short is not None and short.id == low  # the low one, held briefly
    assert q.take("reserve", 60, least=100) is None
    time.sleep(LEASE + 0.2)
    assert q.take("reserve", 60, least=100) is None  # its lease ran out, but it is low
    again = q.take("w", 60)
    assert again is not None and again.id == low and again.attempt == short.attempt + 1


def test_one_tenants_hundred_jobs_do_not_starve_anothers_one(case: Case) -> None:
    q = case.queue
    busy, quiet = case.run("busy"), case.run("quiet")
    for _ in range(100):
        q.enqueue(busy, "start", tenant="busy")
    lonely = q.enqueue(quiet, "start", tenant="quiet")
    order = [q.take("w", 60) for _ in range(3)]
    assert lonely in [j.id for j in order if j]  # within the first turns, not after 100
    # and turns alternate while both have work
    for _ in range(3):
        q.enqueue(quiet, "resume", tenant="quiet")
    tenants = [j.tenant for j in (q.take("w", 60) for _ in range(6)) if j]
    assert tenants.count("quiet") == 3, tenants
    assert all(a != b for a, b in itertools.pairwise(tenants)), tenants
    assert q.stats().depth == 100 + 4 - 3 - 6


def test_takes_go_by_priority_then_least_recently_served_tenant_then_fifo(case: Case) -> None:
    """Many priorities and tenants at once (the store's queue finds each priority and tenant's
    first job by walking an index from one to the next: every step of that walk is here), and
    a job taken and let expire, which is takeable again in its place."""
    q = case.queue
    runs = {t: case.run(t) for t in ("ann", "bob", "cat", "dan")}
    queued: dict[int, tuple[int, str]] = {}
    for priority, tenant, count in [
        (0, "cat", 2), (10, "bob", 2), (0, "ann", 3), (10, "ann", 1), (-5, "dan", 2),
        (0, "bob", 1), (-5, "ann", 1), (100, "dan", 1),
    ]:  # fmt: skip
        for _ in range(count):
            job_id = q.enqueue(runs[tenant], "start", tenant=tenant, priority=priority)
            queued[job_id] = (priority, tenant)
    first = q.take("w", LEASE)  # priority 100: dan's one job, held and left to expire
    assert first is not None and (first.priority, first.tenant) == (100, "dan")
    time.sleep(LEASE + 0.2)
    taken = []
    while (job := q.take("w", 60)) is not None:
        taken.append(job)
    assert taken[0].id == first.id  # expired: first again, still priority 100
    assert sorted(j.id for j in taken) == sorted(queued)  # each once
    assert [j.priority for j in taken] == sorted((j.priority for j in taken), reverse=True)
    for priority in (10, 0, -5):
        level = [j for j in taken if j.priority == priority]
        for tenant in {j.tenant for j in level}:  # each tenant's jobs in the order queued
            ids = [j.id for j in level if j.tenant == tenant]
            assert ids == sorted(ids)
        tenants = [j.tenant for j in level]
        while len(set(tenants[-2:])) == 1 and len(tenants) > 1:  # one tenant's tail
            tenants.pop()
        assert all(a != b for a, b in itertools.pairwise(tenants)), (priority, tenants)
    # at priority 0: cat (never served) first, then ann and bob, the one served longer ago first
    start = next(i for i, j in enumerate(taken) if j.priority == 0)
    served = {j.tenant: i for i, j in enumerate(taken[:start])}
    expected = sorted(["ann", "bob", "cat"], key=lambda t: served.get(t, -1))
    assert expected[0] == "cat"
    assert [j.tenant for j in taken[start : start + 3]] == expected


def test_cancel_drops_the_queued_jobs_of_a_run_only(case: Case) -> None:
    q = case.queue
    doomed, kept = case.run("default"), case.run("default")
    q.enqueue(doomed, "start")
    held_id = q.enqueue(doomed, "resume", priority=50)
    held = q.take("w", 60)
    assert held is not None and held.id == held_id
    q.enqueue(doomed, "resume")
    other = q.enqueue(kept, "start")
    assert q.cancel(doomed) == 2  # the held one is not dropped: its worker stops it
    assert q.cancel(doomed) == 0
    job = q.take("w", 60)
    assert job is not None and job.id == other
    assert q.take("w", 60) is None
    assert q.finish(held, "cancelled")


def test_an_enqueue_key_makes_enqueueing_idempotent(case: Case) -> None:
    q, run = case.queue, case.run("default")
    first = q.enqueue(run, "start", key="hook:delivery-42")
    assert q.enqueue(run, "start", key="hook:delivery-42") == first
    assert q.enqueue(run, "start", key="hook:delivery-43") != first
    assert q.stats().depth == 2


def test_concurrent_consumers_never_take_the_same_job(case: Case) -> None:
    q, run = case.queue, case.run("default")
    ids = {q.enqueue(run, "start") for _ in range(30)}
    got: list[int] = []
    lock = threading.Lock()

    def consume(name: str) -> None:
        while (job := q.take(name, 60)) is not None:
            with lock:
                got.append(job.id)
            assert q.finish(job)

    threads = [threading.Thread(target=consume, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert Counter(got) == Counter(ids)  # each exactly once


def test_stats_report_depth_held_jobs_and_the_oldest_leases_age(case: Case) -> None:
    q, run = case.queue, case.run("default")
    assert (q.stats().depth, q.stats().taken, q.stats().oldest_lease_s) == (0, 0, 0)
    for _ in range(3):
        q.enqueue(run, "start")
    job = q.take("w", 60)
    assert job is not None
    time.sleep(0.3)
    stats = q.stats()
    assert (stats.depth, stats.taken) == (2, 1)
    assert 0.25 <= stats.oldest_lease_s < 30


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"run_id": "r-1} x"}, "run_id"),
        ({"run_id": ""}, "run_id"),
        ({"action": "delete"}, "action"),
        ({"tenant": "a:b"}, "tenant"),
        ({"tenant": "x" * 65}, "tenant"),
        ({"priority": 101}, "priority"),
        ({"priority": True}, "priority"),
        ({"key": "has space"}, "key"),
        ({"key": "k" * 201}, "key"),
        ({"payload": {"x": float("nan")}}, "payload"),
        ({"payload": {"x": object()}}, "payload"),
        ({"payload": {"x": "y" * 70_000}}, "payload"),
    ],
)
def test_hostile_enqueues_are_refused_with_what_is_wrong_and_nothing_stored(
    case: Case, kwargs: dict[str, Any], field: str
) -> None:
    q, run = case.queue, case.run("default")
    kept = q.enqueue(run, "start")
    args: dict[str, Any] = {"run_id": run, "action": "start"} | kwargs
    with pytest.raises(BadJob) as caught:
        q.enqueue(**args)
    assert caught.value.field == field
    assert q.stats().depth == 1
    job = q.take("w", 60)
    assert job is not None and job.id == kept


def test_a_lease_outside_its_bounds_is_refused(case: Case) -> None:
    with pytest.raises(BadJob, match="lease_s"):
        case.queue.take("w", 0)
    with pytest.raises(BadJob, match="lease_s"):
        case.queue.take("w", 90_000)
