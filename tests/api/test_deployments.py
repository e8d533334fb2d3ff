"""Deployments that stay up, over real HTTP: the demo delivered through the API is adopted by
the supervisor at a stable URL (the one the mail shows); the app killed is started again at
that URL; REST reads, logs and stop by role and tenant; and `vitco serve` as a separate
process, stopped by SIGTERM and by kill -9 and started again, brings the app back at the same
URL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.server import Server
from tests.api.test_lifecycle import _wait
from tests.effects import mail_kinds, mails, plain
from vitco.api.keys import issue
from vitco.cli.run import DEMO_BRIEF, DEMO_CASSETTE
from vitco.config import Settings
from vitco.store import AccessStore, open_store
from vitco.store.deployments import DeploymentStore

pytestmark = pytest.mark.slow

VITCO = [sys.executable, "-m", "vitco.cli"]


def _until(check: Callable[[], bool], timeout: float = 90, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.3)


def _health(url: str) -> int | None:
    try:
        return httpx.get(f"{url}/health", timeout=3).status_code
    except httpx.TransportError:
        return None


def _deliver(client: httpx.Client) -> dict:  # type: ignore[type-arg]
    project = client.post("/v1/projects", json={"brief": DEMO_BRIEF.read_text()}).json()
    run = client.post(f"/v1/projects/{project['id']}/runs", json={}).json()
    done = _wait(client, run["id"])
    assert done["status"] == "delivered", done
    items = client.get("/v1/deployments", params={"project_id": project["id"]}).json()["items"]
    assert len(items) == 1
    return dict(items[0])


def test_the_delivered_app_is_kept_up_restarted_read_and_stopped(server: Server) -> None:
    manager = server.client(server.key("acme", "manager"))
    deployment = _deliver(manager)
    url = deployment["url"]
    assert deployment["status"] == "running" and deployment["restarts"] == 0
    assert _health(url) == 200
    run = manager.get(f"/v1/runs/{deployment['run_id']}").json()
    assert run["url"] == url  # the run (and so its report) names the stable URL
    settings: Settings = server.app.state.vitco.settings
    assert mail_kinds(settings.outbox_dir) == {"accepted": 1, "plan_ready": 1, "delivered": 1}
    (delivered,) = mails(settings.outbox_dir, kind="delivered")
    assert f"Try it: {url}/health" in plain(delivered)
    first, last = settings.deploy_ports
    assert first <= int(url.rsplit(":", 1)[1]) <= last

    rows = DeploymentStore(server.access.sessions)
    pid = rows.get(deployment["id"]).pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # the app crashes
    _until(lambda: rows.get(deployment["id"]).restarts == 1, what="the crash is seen")
    _until(lambda: _health(url) == 200, what="the app answers again at the same URL")
    again = manager.get(f"/v1/deployments/{deployment['id']}").json()
    assert again["status"] == "running" and again["restarts"] == 1
    assert "exited with status" in again["last_error"]
    assert rows.get(deployment["id"]).pid not in (None, pid)

    logs = manager.get(f"/v1/deployments/{deployment['id']}/logs", params={"lines": 5})
    assert logs.status_code == 200 and 0 < len(logs.json()["lines"]) <= 5
    viewer = server.client(server.key("acme", "viewer"))
    assert viewer.get(f"/v1/deployments/{deployment['id']}").json()["url"] == url
    assert viewer.post(f"/v1/deployments/{deployment['id']}/stop").status_code == 403
    stranger = server.client(server.key("other", "admin"))
    assert stranger.post(f"/v1/deployments/{deployment['id']}/stop").status_code == 404
    assert stranger.get("/v1/deployments").json()["items"] == []
    assert _health(url) == 200

    stopped = manager.post(f"/v1/deployments/{deployment['id']}/stop")
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    assert stopped.json()["stopped_at"] is not None
    assert _health(url) is None  # the URL no longer answers
    assert manager.post(f"/v1/deployments/{deployment['id']}/stop").status_code == 200
    time.sleep(2)  # nothing brings it back
    assert _health(url) is None and rows.get(deployment["id"]).pid is None


@pytest.fixture
def served(short_home: Path) -> Iterator[Callable[[], subprocess.Popen[str]]]:
    """Starts `vitco serve` on ``short_home`` as its own process (the demo cassette as its
    model); every one started is killed at the end."""
    from tests.processes import free_port

    port = free_port()
    env = os.environ | {"VITCO_HOME": str(short_home), "VITCO_MODEL": f"replay:{DEMO_CASSETTE}"}
    started: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [*VITCO, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        started.append(proc)
        _until(lambda: _answers(f"http://127.0.0.1:{port}"), 60, "vitco serve starts")
        return proc

    def _answers(base: str) -> bool:
        try:
            return httpx.get(f"{base}/v1/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    start.port = port  # type: ignore[attr-defined]
    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)


def test_a_deployment_survives_serve_restarts_by_sigterm_and_kill_9(
    short_home: Path, served: Callable[[], subprocess.Popen[str]]
) -> None:
    settings = Settings(home=short_home)
    access = AccessStore(open_store(settings).sessions)
    access.create_tenant("acme", "Acme")
    key = issue(access, "acme", "manager")[1]
    serve = served()
    base = f"http://127.0.0.1:{served.port}"  # type: ignore[attr-defined]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
        deployment = _deliver(client)
    url = deployment["url"]
    made = httpx.post(f"{url}/todos", json={"title": "served"}, timeout=5)
    assert made.status_code in (200, 201), made.text
    pids = {DeploymentStore(access.sessions).get(deployment["id"]).pid}

    for how in (signal.SIGTERM, signal.SIGKILL):
        serve.send_signal(how)
        serve.wait(60)
        _until(lambda: _health(url) is None, 30, "the app stops with serve")
        listed = subprocess.run(
            [*VITCO, "deployments", "list", "--json"],
            env=os.environ | {"VITCO_HOME": str(short_home)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        shown = json.loads(listed.stdout)
        assert shown["supervised"] is False
        assert [(d["url"], d["state"]) for d in shown["deployments"]] == [(url, "down")]

        serve = served()
        _until(lambda: _health(url) == 200, 120, f"the app is back after {how.name}")
        # a new process of the app (the demo app keeps its todos in memory: none are left)
        assert httpx.get(f"{url}/todos", timeout=5).json() == []
        pid = DeploymentStore(access.sessions).get(deployment["id"]).pid
        assert pid is not None and pid not in pids
        pids.add(pid)
    serve.send_signal(signal.SIGTERM)
    serve.wait(60)
