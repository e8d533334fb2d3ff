"""How the runner records a run's ending: its report is read in the ending's transaction
(``Store.mark_run``'s ``computed``); a report that cannot be built leaves the ending stored
without it, and the error raised, the lease and the job ending as for any failure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.workflow.onestep import trivial_services
from vitco.jobs.embedded import EmbeddedWorker, execute_job
from vitco.jobs.queue import StoreRunQueue
from vitco.leases.sql import SqlRunLease
from vitco.sandbox import Sandbox
from vitco.workflow import runner
from vitco.workflow.brief import BriefText
from vitco.workflow.runner import create_run
from vitco.workflow.services import Services


@pytest.fixture
def services(tmp_path: Path, database_url: str, sandbox: Sandbox) -> Iterator[Services]:
    with trivial_services(tmp_path / "home", database_url, sandbox, "t_noop_ending") as services:
        yield services


def test_a_report_that_cannot_be_built_leaves_the_ending_stored_without_it(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, settings = services.store, services.settings
    brief = BriefText(source="test", text="# Nothing\n\nNothing to build.\n", title="Nothing")
    run_id = create_run(store, settings, brief, "test", workflow="trivial")
    queue = StoreRunQueue(store.sessions)
    queue.enqueue(run_id, "start")

    def unbuildable(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("no report today")

    monkeypatch.setattr(runner, "build_report", unbuildable)
    worker = EmbeddedWorker(
        queue, store, lambda job: execute_job(services, job), lease_s=30, burst=True
    )
    worker.start()
    assert worker.wait(60)

    (done,) = worker.done()
    assert done.ending == "failed"  # the error reached the worker
    run = store.get_run(run_id)
    assert (run.status, run.report, run.finished_at is not None) == ("delivered", None, True)
    assert [e.message for e in store.events(run_id)][-1] == f"run {run_id} delivered"
    assert SqlRunLease(store.engine).inspect(run_id) is None  # given back all the same
    assert queue.stats().taken == 0  # and the job ended
