"""Progress shows how long the current step and the run have taken and what the run has spent,
refreshed while a long step runs; plain output gets a line now and then during a long step."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from vitco.cli.progress import RunProgress, clock_text, ledger_spent
from vitco.config import Settings
from vitco.store import Store, open_database
from vitco.store.models import Event, ModelCall


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def event(kind: str, message: str, task: str | None = None) -> Event:
    return Event(run_id="r-1", ts=datetime.now(UTC), kind=kind, message=message, task=task)


def test_clock_text() -> None:
    assert [clock_text(s) for s in (0, 42.9, 190, 3723)] == ["0s", "42s", "3:10", "1:02:03"]


def test_the_spinner_says_step_time_run_time_and_spend() -> None:
    clock, spend = Clock(), {"r-1": 0.0}
    console = Console(force_terminal=True, record=True, width=120)
    progress = RunProgress(console, spent=spend.__getitem__, clock=clock)
    clock.now += 5
    progress(event("step", "analyst reads the brief"))
    clock.now += 70
    spend["r-1"] = 0.0123  # a model call was recorded meanwhile
    progress.tick()
    assert progress.status_text() == "analyst reads the brief · step 1:10 · run 1:15 · $0.0123"
    clock.now += 3
    progress(event("step", "developer implements T2", task="T2"))
    assert progress.status_text().startswith("[T2] developer implements T2 · step 0s · run 1:18")


def test_a_long_step_gets_a_line_in_plain_output() -> None:
    clock, spend = Clock(), {"r-1": 0.5}
    console = Console(force_terminal=False, record=True, width=200)
    progress = RunProgress(console, spent=spend.__getitem__, clock=clock, heartbeat_s=30)
    progress(event("step", "running T1's tests in the sandbox", task="T1"))
    clock.now += 29
    progress.tick()
    assert "· step" not in console.export_text(clear=False)  # not yet
    clock.now += 2
    progress.tick()
    lines = console.export_text().splitlines()
    assert lines[-1].endswith(
        "running  [T1] running T1's tests in the sandbox · step 31s · run 31s · $0.5000"
    )
    clock.now += 10
    progress.tick()  # the next one comes heartbeat_s later
    assert "· step" not in console.export_text()


def test_a_ledger_that_cannot_be_read_only_hides_the_spend() -> None:
    def broken(run_id: str) -> float:
        raise OSError("gone")

    progress = RunProgress(Console(record=True), spent=broken, clock=Clock())
    progress(event("step", "manager plans the work"))
    assert "$" not in progress.status_text() and progress.spent is None


def test_ledger_spent_sums_the_runs_calls(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    settings.ensure_dirs()
    store = Store(open_database(settings.resolved_database_url))
    project = store.create_project("p", str(tmp_path / "p"))
    brief = store.create_brief(project.id, "cli", "text")
    runs = [store.create_run(project.id, brief.id, "m", "deliver-project") for _ in range(2)]
    for run, usd in ((runs[0], 0.25), (runs[0], 0.5), (runs[1], 9.0)):
        store.record_call(
            ModelCall(
                run_id=run.id, project_id=project.id, call_key=f"a/x#{usd}", role="analyst",
                step="x", model="m", fingerprint="f" * 64, cost_usd=usd, response="{}",
            )
        )  # fmt: skip
    assert ledger_spent(settings)(runs[0].id) == 0.75
