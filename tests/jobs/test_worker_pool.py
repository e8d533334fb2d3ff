"""The worker executes up to N runs at once, cancels one without touching the others, and on
shutdown hands its runs back: gently (the running step finishes and is not done again) or at
once (the step is cut and done again). Real queue, store, sandbox and workflow; the model is
the test model (the held workflow asks none)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.jobs.holding import Hold, brief, holding
from vitco.bootstrap import build
from vitco.config import Settings
from vitco.jobs.embedded import EmbeddedWorker, execute_job
from vitco.jobs.queue import StoreRunQueue
from vitco.llm.testing import TestModel
from vitco.sandbox import Sandbox
from vitco.workflow.brief import load_brief
from vitco.workflow.runner import create_run
from vitco.workflow.services import Services


@pytest.fixture
def held(settings: Settings) -> Iterator[Hold]:
    with holding(settings) as hold:
        yield hold


@pytest.fixture
def services(settings: Settings, sandbox: Sandbox, held: Hold) -> Services:
    return build(settings, model=TestModel(), sandbox=sandbox)


def _queued(services: Services, tmp_path: Path, title: str) -> str:
    settings, store = services.settings, services.store
    run_id = create_run(
        store, settings, load_brief(brief(tmp_path, title)), "test", workflow="hold"
    )
    StoreRunQueue(store.sessions).enqueue(run_id, "start")
    return run_id


def _worker(services: Services, concurrency: int, *, burst: bool = False) -> EmbeddedWorker:
    return EmbeddedWorker(
        StoreRunQueue(services.store.sessions),
        services.store,
        lambda job: execute_job(services, job),
        concurrency=concurrency,
        lease_s=30,
        poll_s=0.1,
        burst=burst,
    )


def _wait(predicate: object, timeout: float = 60.0) -> bool:
    done = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if predicate():  # type: ignore[operator]
            return True
        done.wait(0.05)
    return False


def test_two_at_once_a_cancel_stops_one_and_the_third_takes_its_place(
    services: Services, held: Hold, tmp_path: Path
) -> None:
    alpha, beta, gamma = (_queued(services, tmp_path, t) for t in ("Alpha", "Beta", "Gamma"))
    worker = _worker(services, concurrency=2)
    worker.start()
    try:
        assert held.wait_started(alpha) and held.wait_started(beta)
        queue = StoreRunQueue(services.store.sessions)
        stats = queue.stats()
        assert (stats.depth, stats.taken) == (1, 2)  # two at once, the third waits
        assert not held.wait_started(gamma, timeout=0.5)

        assert worker.cancel(alpha)
        assert held.wait_started(gamma)  # the freed slot takes the third
        held.release(beta)
        held.release(gamma)
        assert _wait(lambda: len(worker.done()) == 3)
    finally:
        worker.close()
    store = services.store
    assert store.get_run(alpha).status == "cancelled"
    assert store.get_run(beta).status == store.get_run(gamma).status == "delivered"
    endings = {d.job.run_id: d.ending for d in worker.done()}
    assert endings == {alpha: "cancelled", beta: "done", gamma: "done"}
    assert held.count(beta, "hold finished") == 1 and held.count(beta, "after ran") == 1
    assert queue.stats().taken == 0


def test_a_drained_worker_lets_the_step_finish_and_another_resumes_after_it(
    services: Services, held: Hold, tmp_path: Path
) -> None:
    alpha = _queued(services, tmp_path, "Alpha")
    first = _worker(services, concurrency=1)
    first.start()
    assert held.wait_started(alpha)
    first.drain()  # SIGTERM: no more jobs, no next step
    held.release(alpha)  # the running step finishes and is recorded
    assert first.wait(60)
    assert [d.ending for d in first.done()] == ["released"]
    assert services.store.get_run(alpha).status == "interrupted"
    assert held.count(alpha, "hold finished") == 1

    second = _worker(services, concurrency=1, burst=True)
    second.start()
    assert second.wait(60)
    (done,) = second.done()
    assert (done.ending, done.job.attempt) == ("done", 2)
    assert services.store.get_run(alpha).status == "delivered"
    assert held.count(alpha, "hold finished") == 1  # not done again
    assert held.count(alpha, "after ran") == 1


def test_handing_back_at_once_cuts_the_step_which_the_next_worker_does_again(
    services: Services, held: Hold, tmp_path: Path
) -> None:
    alpha = _queued(services, tmp_path, "Alpha")
    first = _worker(services, concurrency=1)
    first.start()
    assert held.wait_started(alpha)
    held.output.pop(alpha, None)
    first.hand_back()  # a second SIGTERM: the sandboxed command is killed
    assert first.wait(30)
    assert [d.ending for d in first.done()] == ["released"]
    assert "finished" not in held.output[alpha]
    assert held.count(alpha, "hold finished") == 0

    second = _worker(services, concurrency=1, burst=True)
    second.start()
    assert _wait(lambda: held.count(alpha, "hold started") == 2)  # the step again, from its start
    held.release(alpha)
    assert second.wait(60)
    assert services.store.get_run(alpha).status == "delivered"
    assert held.count(alpha, "hold finished") == 1


def test_a_run_cancelled_by_another_process_is_stopped_at_the_next_renewal(
    services: Services, held: Hold, tmp_path: Path
) -> None:
    alpha = _queued(services, tmp_path, "Alpha")
    worker = EmbeddedWorker(
        StoreRunQueue(services.store.sessions),
        services.store,
        lambda job: execute_job(services, job),
        lease_s=1.5,  # renewals (and the look at the run's status) every half second
        poll_s=0.1,
    )
    worker.start()
    try:
        assert held.wait_started(alpha)
        services.store.update_run(alpha, status="cancelled", reason="cancelled on request")
        assert _wait(lambda: len(worker.done()) == 1, timeout=30)
    finally:
        worker.close()
    assert worker.done()[0].ending == "cancelled"
    assert services.store.get_run(alpha).status == "cancelled"
    assert "finished" not in held.output[alpha]


def test_a_start_that_fails_before_its_run_begins_leaves_the_run_failed_not_queued(
    services: Services, tmp_path: Path
) -> None:
    """Nothing takes a failed job again: its run, never begun, must say why it stopped; a
    run busy elsewhere (another executor holds it) is left to that executor."""
    from vitco.workflow.exceptions import RunBusy

    broken, busy = _queued(services, tmp_path, "Broken"), _queued(services, tmp_path, "Busy")

    def execute(job: object) -> None:
        run_id = job.run_id  # type: ignore[attr-defined]
        if run_id == busy:
            raise RunBusy(run_id)
        raise RuntimeError("the model 'gone:1' cannot be resolved")

    worker = EmbeddedWorker(
        StoreRunQueue(services.store.sessions), services.store, execute,
        concurrency=1, lease_s=30, poll_s=0.1, burst=True,
    )  # fmt: skip
    worker.start()
    assert worker.wait(60)
    assert sorted(d.ending for d in worker.done()) == ["failed", "failed"]
    run = services.store.get_run(broken)
    assert run.status == "failed"
    assert (
        run.reason == "the run could not start: RuntimeError: the model 'gone:1' cannot be resolved"
    )
    assert services.store.get_run(busy).status == "queued"  # its executor records its end
