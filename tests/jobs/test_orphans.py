"""An orphaned run's resume goes before the queue's backlog of new runs, on both queues: the
takeover bound (within 15 s of a worker's death) holds only if a resume does not wait its
turn behind every start queued before it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from vitco.jobs.embedded import requeue_orphans
from vitco.jobs.queue import RunQueue, StoreRunQueue
from vitco.jobs.redis_queue import RedisRunQueue
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
