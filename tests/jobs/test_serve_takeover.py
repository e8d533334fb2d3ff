"""``vitco serve`` takes over orphaned runs as ``vitco worker`` does (the same watch,
``jobs.worker.scan_orphans``): a run whose process was killed is resumed by a server started
afterwards on the same data dir, from its checkpoint, with nothing paid or done twice. The
toolchain's sandboxed commands are the tests' stand-in (``tests.standin``)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.effects import assert_delivered_once
from tests.processes import serve
from tests.standin import PRELUDE
from tests.workflow.test_crash_resume import BRIEF, CASSETTE, vitco
from vitco.config import Settings
from vitco.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("sandbox")]
ROOT = Path(__file__).resolve().parents[2]


def test_vitco_serve_resumes_a_run_whose_process_died(short_home: Path) -> None:
    crashed = vitco(
        short_home, "run", str(BRIEF), "--model", f"replay:{CASSETTE}", crash_at="mid-task"
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    store = open_store(Settings(home=short_home))
    (run,) = store.runs()
    assert run.status == "running"
    calls_before = len(store.calls(run_id=run.id))

    env = {k: v for k, v in os.environ.items() if not k.startswith("VITCO_")}
    env |= {"VITCO_HOME": str(short_home), "PYTHONPATH": str(ROOT)}
    with serve(env, short_home / "serve.log", prelude=PRELUDE):
        deadline = time.monotonic() + 90
        while store.get_run(run.id).status == "running":
            assert time.monotonic() < deadline, (short_home / "serve.log").read_text()[-3000:]
            time.sleep(0.2)
    assert calls_before > 0  # it had paid for calls before it died: none is paid again
    assert_delivered_once(store, run.id, [short_home / "outbox"])
    resumed = [e for e in store.events(run.id) if e.kind == "run" and "resumed" in e.message]
    assert len(resumed) == 1
