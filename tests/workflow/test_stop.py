"""A stop is per run: two runs executing at once in one process, one is cancelled, the other
delivers; Ctrl-C/SIGTERM (``request_all``) still stops every run of the process."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.jobs.holding import Hold, brief, holding
from vitco.bootstrap import start_run
from vitco.config import Settings
from vitco.llm.testing import TestModel
from vitco.sandbox import Sandbox
from vitco.store import open_store
from vitco.workflow import stop


class RunThread(threading.Thread):
    """``start_run`` on a thread, under a stop token the test holds."""

    def __init__(self, settings: Settings, sandbox: Sandbox, brief_path: Path) -> None:
        super().__init__(daemon=True)
        self.settings, self.sandbox, self.brief_path = settings, sandbox, brief_path
        self.token = stop.StopToken(brief_path.stem)
        self.report: dict[str, Any] = {}

    def run(self) -> None:
        with stop.scope(self.token):
            outcome = start_run(
                self.settings,
                self.brief_path,
                model=TestModel(),
                sandbox=self.sandbox,
                workflow="hold",
            )
        self.report = outcome.report


def _run_id(settings: Settings, title: str) -> str:
    store = open_store(settings)
    for run in store.runs():
        if store.get_project(run.project_id).name == title:
            return run.id
    raise AssertionError(f"no run of {title}")


def _wait_for_run(settings: Settings, title: str) -> str:
    """The run of ``title`` once its thread has stored it."""
    for _ in range(600):
        try:
            return _run_id(settings, title)
        except AssertionError:
            threading.Event().wait(0.05)
    return _run_id(settings, title)


def _start_both(
    settings: Settings, sandbox: Sandbox, tmp_path: Path, hold: Hold
) -> tuple[RunThread, RunThread, str, str]:
    a = RunThread(settings, sandbox, brief(tmp_path, "Alpha"))
    b = RunThread(settings, sandbox, brief(tmp_path, "Beta"))
    a.start()
    b.start()
    for title in ("Alpha", "Beta"):
        run_id = _wait_for_run(settings, title)
        assert hold.wait_started(run_id), f"{title} never started its command"
    return a, b, _run_id(settings, "Alpha"), _run_id(settings, "Beta")


def test_cancelling_one_of_two_concurrent_runs_leaves_the_other_to_deliver(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    with holding(settings) as hold:
        a, b, alpha, beta = _start_both(settings, sandbox, tmp_path, hold)

        a.token.request("a cancel")  # both runs' commands are running now
        a.join(30)
        assert not a.is_alive()
        assert a.report["status"] == "interrupted", a.report
        assert "started" in hold.output[alpha] and "finished" not in hold.output[alpha]

        assert b.is_alive() and not b.token.requested()  # Beta's command still waits
        hold.release(beta)
        b.join(30)
        assert b.report["status"] == "delivered", b.report
        assert "finished" in hold.output[beta]
    store = open_store(settings)
    assert store.get_run(alpha).status == "interrupted"
    assert store.get_run(beta).status == "delivered"


def test_a_process_wide_stop_stops_every_run(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    with holding(settings) as hold:
        a, b, alpha, beta = _start_both(settings, sandbox, tmp_path, hold)
        assert stop.request_all("SIGTERM") >= 2
        a.join(30)
        b.join(30)
    assert a.report["status"] == b.report["status"] == "interrupted"
    assert "finished" not in hold.output[alpha] + hold.output[beta]
    assert a.token.reason == b.token.reason == "SIGTERM"


def test_a_command_started_after_the_stop_is_killed_at_once(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    """A step that spawns while its run is being stopped does not get a live command."""
    work = tmp_path / "work"
    work.mkdir()
    with stop.scope() as token:
        token.request()
        result = sandbox.run(["sh", "-c", "sleep 20; echo finished"], work)
    assert "finished" not in result.stdout
    assert result.exit_code != 0


def test_check_and_requested_read_the_current_runs_token() -> None:
    assert not stop.requested()
    stop.check()  # outside any run: nothing to stop
    seen: dict[str, bool] = {}
    with stop.scope(name="outer") as outer:
        with stop.scope() as inner:  # a nested scope joins the enclosing run
            assert inner is outer

        def other_run() -> None:
            with stop.scope(name="other"):
                seen["other"] = stop.requested()

        outer.request("a cancel")
        thread = threading.Thread(target=other_run)
        thread.start()
        thread.join()
        assert stop.requested()
        with pytest.raises(stop.RunInterrupted, match="a cancel"):
            stop.check()
    assert seen == {"other": False}
    assert not stop.requested()
