"""A service that keeps data, shipped in the real sandbox: the app writes a SQLite file into
DATA_DIR; smoke checks chain requests and assert on bodies against a scratch copy of the data;
a restart check catches an app that keeps its data where it does not last."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.workflow.scripted import NOTES_APP, NOTES_DEPLOY
from vitco.config import Settings
from vitco.integrations.git.repo import Repo
from vitco.sandbox import Limits, Process, Sandbox
from vitco.toolchains import DeployPlan, Tools
from vitco.toolchains.python import ensure_venv
from vitco.toolchains.service import ship_service

pytestmark = pytest.mark.slow


@pytest.fixture
def started() -> Iterator[list[Process]]:
    processes: list[Process] = []
    yield processes
    for process in processes:
        process.stop()


@pytest.fixture
def tools(
    settings: Settings, sandbox: Sandbox, started: list[Process], tmp_path: Path
) -> Iterator[Tools]:
    with httpx.Client(timeout=10.0) as client:
        yield Tools(
            sandbox=sandbox.for_project(3),
            http=client,
            caches=settings.cache_dir,
            out=tmp_path / "out",
            limits=Limits(cpu_s=60, memory_mb=1024, disk_mb=256),
            health_timeout_s=20.0,
            on_started=started.append,
            data=settings.sandbox_state_dir / "data" / "p1",
        )


@pytest.fixture
def root(settings: Settings) -> Path:
    ws = settings.projects_dir / "notes"
    ws.mkdir(parents=True)
    Repo.init(ws)  # sandboxed code first runs in a git repo (see sandbox/bwrap.py)
    (ws / "notes.py").write_text(NOTES_APP, encoding="utf-8")
    return ws


def _ship(tools: Tools, root: Path, **changes: Any) -> tuple[Any, Process]:
    plan = DeployPlan.model_validate(NOTES_DEPLOY | changes)
    return ship_service(tools, root, plan, python=ensure_venv(tools.sandbox, root))


def _notes(live: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(live / "notes.sqlite") as con:
        return con.execute("select id, text from notes").fetchall()


def test_chained_smoke_runs_on_a_copy_and_the_live_data_is_untouched(
    tools: Tools, root: Path, started: list[Process]
) -> None:
    assert tools.data is not None
    live = tools.data / "live"
    live.mkdir(parents=True)
    with sqlite3.connect(live / "notes.sqlite") as con:
        con.execute("create table notes (id text primary key, text text)")
        con.execute("insert into notes values ('seed', 'kept')")
    smoke = [
        *NOTES_DEPLOY["smoke"],
        {"path": "/notes", "expect_json": [{"id": "seed"}, {"text": "milk"}]},
    ]

    shipment, process = _ship(tools, root, smoke=smoke)

    assert shipment.ok, shipment.checks
    assert [c.name for c in shipment.checks][1:3] == ["POST /notes", f"GET /notes/{_id(shipment)}"]
    assert "(on a copy of the data)" in shipment.checks[1].detail
    # three starts' worth of processes: the copy's and the live one; only the live one runs
    assert [p.poll() is None for p in started] == [False, True]
    assert process is started[-1]
    # the live app serves the live data: the seed is there, the smoke's note is not
    client = tools.http
    assert client.get(f"{process.url}/notes/seed").json() == {"id": "seed", "text": "kept"}
    assert client.get(f"{process.url}/notes/{_id(shipment)}").status_code == 404
    process.stop()
    assert _notes(live) == [("seed", "kept")]
    assert sorted(os.listdir(tools.data)) == ["live"]  # the scratch copy is gone


def _id(shipment: Any) -> str:
    post = shipment.checks[2].name  # "GET /notes/<id>": the id the POST answered
    return str(post.rsplit("/", 1)[1])


def test_a_body_that_does_not_match_fails_its_check_with_what_was_received(
    tools: Tools, root: Path
) -> None:
    smoke = [
        NOTES_DEPLOY["smoke"][0],
        {"path": "/notes/{{steps.0.body.id}}", "expect_json": {"text": "bread"}},
        {"path": "/notes/{{steps.1.body.nope}}", "expect_status": 404},
    ]

    shipment, _process = _ship(tools, root, smoke=smoke)

    assert not shipment.ok
    post, get, unresolved = shipment.checks[1:]
    assert post.ok
    assert not get.ok
    assert 'body.text is "milk", expected "bread"' in get.detail
    assert not unresolved.ok
    assert "step 1's body has no 'nope'" in unresolved.detail
    assert "smoke FAILED" in shipment.summary


def test_the_restart_check_passes_for_data_in_data_dir_and_catches_data_in_tmp(
    tools: Tools, root: Path
) -> None:
    persistent = {
        "persistent_data": True,
        "after_restart": [{"path": "/notes/{{steps.0.body.id}}", "expect_json": {"text": "milk"}}],
    }

    kept, process = _ship(tools, root, **persistent)
    process.stop()
    lost, _ = _ship(tools, root, **persistent, env={"NOTES_DIR": "/tmp"})

    assert kept.ok, kept.checks
    assert [c.name for c in kept.checks][-2:] == [
        f"after restart: GET /notes/{_id(kept)}",
        "restart",
    ]
    assert "data kept over a restart" in kept.summary
    assert not lost.ok
    [after] = [c for c in lost.checks if c.name.startswith("after restart")]
    assert not after.ok and after.detail.startswith("status 404, expected 200")
    assert all(c.ok for c in lost.checks if not c.name.startswith("after restart"))


def test_the_get_checks_of_smoke_run_again_after_a_restart_by_default(
    tools: Tools, root: Path
) -> None:
    shipment, _ = _ship(tools, root, persistent_data=True, env={"NOTES_DIR": "/tmp"})

    names = [c.name for c in shipment.checks if not c.ok]
    assert names == [f"after restart: GET /notes/{_id(shipment)}"]


def test_the_plans_variables_reach_the_app_and_vitcos_own_win(tools: Tools, root: Path) -> None:
    smoke = [{"path": "/health", "expect_json": {"greeting": "hello"}}]

    shipment, process = _ship(tools, root, smoke=smoke, env={"GREETING": "hello"})

    assert shipment.ok, shipment.checks
    assert tools.http.get(f"{process.url}/health").json()["greeting"] == "hello"


def test_an_app_that_does_not_come_back_after_the_restart_fails_the_restart_check(
    tools: Tools, root: Path
) -> None:
    refuses = 'if os.path.exists(os.path.join(os.environ["DATA_DIR"], "notes.sqlite")):\n'
    refuses += '    raise SystemExit("cannot open notes.sqlite twice")\n'
    (root / "notes.py").write_text(NOTES_APP.replace("\n\ndef _db", f"\n{refuses}\n\ndef _db"))

    shipment, process = _ship(tools, root, persistent_data=True)

    [restart] = [c for c in shipment.checks if c.name == "restart"]
    assert not restart.ok
    assert restart.detail.startswith("the app did not come back after a restart")
    assert "cannot open notes.sqlite twice" in restart.detail
    assert not any(c.name.startswith("after restart") for c in shipment.checks)
    assert all(c.ok for c in shipment.checks if c.name != "restart")
    # the live app (empty live data) still serves
    assert tools.http.get(f"{process.url}/health").status_code == 200
