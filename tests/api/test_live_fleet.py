"""Events across processes: two ``vitco serve`` processes on one PostgreSQL and one Redis.
A run executes in instance A; a WebSocket client of instance B, connected while the run waits
at a gate, receives every event of the run, in order, each once, with the numbers the store
gave them (those before it connected by catch-up, the rest live: woken by A's notify over
Redis). The demo with the tests' stand-in for its toolchain (``tests.standin``): this test is
about events crossing processes, not about the delivered project's tests."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.processes import fleet_env, serve
from tests.standin import ENV as standin_env
from tests.standin import PRELUDE
from vitco.api.keys import issue
from vitco.cli.run import DEMO_BRIEF
from vitco.client import VitcoClient
from vitco.store import AccessStore, Store, open_database

pytestmark = pytest.mark.slow
REDIS_URL = "redis://127.0.0.1:6379/0"
CAREFUL = (
    "name: careful\nextends: deliver-project\ngates:\n  - {after: plan, question: 'Plan OK?'}\n"
)


def _collect(
    url: str, key: str, run_id: str, got: list[dict[str, Any]], done: threading.Event
) -> None:
    ws_url = url.replace("http://", "ws://") + f"/v1/events?run_id={run_id}&since=0"
    with connect(ws_url, additional_headers={"Authorization": f"Bearer {key}"}) as ws:
        while not done.is_set():
            try:
                got.append(json.loads(ws.recv(timeout=0.5)))
            except TimeoutError:
                continue
            except ConnectionClosed:
                return


def test_a_client_of_instance_b_gets_every_event_of_a_run_in_instance_a(
    postgres_url: str, redis_prefix: str, short_home: Path
) -> None:
    sessions = open_database(postgres_url)
    access = AccessStore(sessions)
    access.create_tenant("acme", "Acme")
    key = issue(access, "acme", "manager")[1]
    # A executes the run; B executes nothing, and reads the table only when woken (an hour
    # between looks otherwise): what reaches its client live came from A over Redis
    prefix = redis_prefix + "queue:"  # the fixture removes these keys afterwards
    env_a = fleet_env(
        short_home / "a", postgres_url, REDIS_URL, queue_prefix=prefix, api=True,
        VITCO_SERVE_WORKER="true", **standin_env,
    )  # fmt: skip
    env_b = fleet_env(
        short_home / "b", postgres_url, REDIS_URL, queue_prefix=prefix, api=True,
        VITCO_LIVE_IDLE_S="3600",
    )  # fmt: skip
    # the run waits at a gate until B's client has joined, however slow B is to start: the
    # events before the gate come by catch-up, those after it live
    (short_home / "a" / "workflows").mkdir(parents=True)
    (short_home / "a" / "workflows" / "careful.yaml").write_text(CAREFUL)
    with serve(env_a, short_home / "a.log", prelude=PRELUDE) as a:
        api_a = VitcoClient.connect(a.url, key)
        project = api_a.create_project(DEMO_BRIEF.read_text())
        run = api_a.start_run(project.id, workflow="careful")
        deadline = time.monotonic() + 120
        while api_a.run(run.id).status != "awaiting_approval":
            assert time.monotonic() < deadline, api_a.run(run.id)
            time.sleep(0.05)
        with serve(env_b, short_home / "b.log") as b:
            got: list[dict[str, Any]] = []
            done = threading.Event()
            reader = threading.Thread(target=_collect, args=(b.url, key, run.id, got, done))
            reader.start()
            at_connect = len(Store(sessions).events(run.id))
            deadline = time.monotonic() + 30
            while len(got) < at_connect and reader.is_alive():  # caught up to the gate
                assert time.monotonic() < deadline, (len(got), at_connect)
                time.sleep(0.02)
            api_a.approve(run.id)
            final = api_a.wait(run.id, timeout=240)
            assert final.status == "delivered", final
            stored = Store(sessions).events(run.id)
            deadline = time.monotonic() + 30
            while len(got) < len(stored) and time.monotonic() < deadline:
                time.sleep(0.05)
            done.set()
            reader.join(10)
        api_a.close()
    assert at_connect < len(stored)  # the run wrote on after B's client joined
    # the run may write after it is delivered (what it kept up): compare with all it wrote
    written = Store(sessions).events(run.id)
    assert len(got) >= len(stored)  # every event up to delivered, at least
    assert [e["seq"] for e in got] == [e.id for e in written][: len(got)]  # in order, once
    assert [(e["kind"], e["message"]) for e in got] == [
        (e.kind, e.message) for e in written[: len(got)]
    ]
    assert all(e["run_id"] == run.id for e in got)
