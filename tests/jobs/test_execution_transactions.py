"""A worker's execution of a run commits three times: the job's take; the run's lease, its
fence and its start (with the event that says so); the run's ending (with its report, read
on its connection, and event), the lease given back and the job finished. A crash between
two commits leaves each group whole or absent, never the run delivered with its job still
held (retaken for nothing) nor started without its lease. Real store and queue, SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from tests.workflow.onestep import trivial_services
from vitco.jobs.embedded import EmbeddedWorker, execute_job
from vitco.jobs.queue import Job, StoreRunQueue
from vitco.leases.sql import SqlRunLease
from vitco.sandbox import Sandbox
from vitco.workflow.brief import BriefText
from vitco.workflow.runner import create_run
from vitco.workflow.services import Services


@pytest.fixture
def services(tmp_path: Path, database_url: str, sandbox: Sandbox) -> Iterator[Services]:
    with trivial_services(tmp_path / "home", database_url, sandbox, "t_noop") as services:
        yield services


@contextmanager
def _transactions(
    services: Services, within: list[tuple[str, Any]] | None = None
) -> Iterator[list[list[str]]]:
    """The statements the store's engine sends, grouped by the commit that ends them;
    ``within``: each statement with the transaction it was sent in."""
    groups: list[list[str]] = [[]]
    engine = services.store.engine

    def said(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        groups[-1].append(" ".join(statement.split()))
        if within is not None:  # the transaction object itself: kept, its id not reused
            within.append((groups[-1][-1], conn.get_transaction()))

    def committed(conn: Any) -> None:
        groups.append([])

    event.listen(engine, "before_cursor_execute", said)
    event.listen(engine, "commit", committed)
    try:
        yield groups
    finally:
        event.remove(engine, "before_cursor_execute", said)
        event.remove(engine, "commit", committed)


def _one(groups: list[list[str]], start: str) -> list[str]:
    (found,) = [g for g in groups if any(s.startswith(start) for s in g)]
    return found


def test_a_run_starts_and_ends_each_in_one_transaction(services: Services) -> None:
    store, settings = services.store, services.settings
    brief = BriefText(source="test", text="# Nothing\n\nNothing to build.\n", title="Nothing")
    run_id = create_run(store, settings, brief, "test", workflow="trivial")
    queue = StoreRunQueue(store.sessions)
    job_id = queue.enqueue(run_id, "start")
    worker = EmbeddedWorker(
        queue, store, lambda job: execute_job(services, job), lease_s=30, burst=True
    )
    sent: list[tuple[str, Any]] = []
    with _transactions(services, sent) as groups:
        worker.start()
        assert worker.wait(60)

    (done,) = worker.done()
    assert (done.job.id, done.ending) == (job_id, "done")
    assert store.get_run(run_id).status == "delivered"
    assert SqlRunLease(store.engine).inspect(run_id) is None  # given back
    assert queue.stats().taken == 0  # finished

    started = _one(groups, "INSERT INTO run_leases")
    assert any(s.startswith("INSERT INTO run_fences") for s in started)
    assert any(s.startswith("UPDATE runs SET status") for s in started)
    assert any(s.startswith("INSERT INTO events") for s in started)
    ended = _one(groups, "UPDATE run_leases SET owner = ''")
    assert any(s.startswith("UPDATE runs SET status") and "report" in s for s in ended)
    assert any(s.startswith("UPDATE run_jobs SET status") and "finished_at" in s for s in ended)
    said = [s for g in groups for s in g]
    assert len([s for s in said if s.startswith("SELECT") and " projects." in s]) == 1, (
        "the run and its project are read once a job (its log lines', its execution's)"
    )
    writes = [g for g in groups if any(s.startswith(("INSERT", "UPDATE")) for s in g)]
    assert writes.index(ended) == 2, writes  # the take, the start, the ending
    # the report is read on the ending's connection, the run alone (it has no task,
    # artifact nor ledger row): one statement, not four on a connection of its own
    (ending,) = [t for s, t in sent if s.startswith("UPDATE runs SET") and "report" in s]
    reads = [s for s, t in sent if t is ending and s.startswith("SELECT runs.")]
    assert len(reads) == 1, [s for s, t in sent if t is ending]
    assert not [s for s in said if s.startswith(("SELECT tasks.", "SELECT artifacts."))]


def test_a_renewal_after_the_runs_ending_does_not_make_its_job_lost(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    """The job ended with its run's ending, inside the execution: the worker's renewal that
    comes before the execution has returned finds the job ended, which is not a loss, and
    says nothing of one (a bench under load logged "lost the lease of job ... to another
    worker" for such jobs)."""
    store, settings = services.store, services.settings
    brief = BriefText(source="test", text="# Nothing\n\nNothing to build.\n", title="Nothing")
    run_id = create_run(store, settings, brief, "test", workflow="trivial")
    queue = StoreRunQueue(store.sessions)
    queue.enqueue(run_id, "start")
    renewed: list[tuple[bool, bool]] = []

    def execute_then_renew(job: Job) -> None:
        execute_job(services, job)
        held = worker._state.held[job.id]
        worker._renew(held)  # as the renewer thread may, before the job leaves the held ones
        renewed.append((held.finished, held.lost))

    worker = EmbeddedWorker(queue, store, execute_then_renew, lease_s=30, burst=True)
    with caplog.at_level("WARNING", logger="vitco.jobs"):
        worker.start()
        assert worker.wait(60)
    assert renewed == [(True, False)]  # finished with the run: the renewal loses nothing
    assert not [r for r in caplog.records if "lost the lease" in r.getMessage()]
    (done,) = worker.done()
    assert done.ending == "done"
    assert store.get_run(run_id).status == "delivered"
