"""A project's whole life through REST, over real HTTP: created from the demo brief, a run on
the demo cassette executed by the embedded worker until delivered, then its tasks, events,
costs and history read back and checked against the store."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.api.server import Server
from vitco.cli.run import DEMO_BRIEF

pytestmark = pytest.mark.slow


def _wait(client: httpx.Client, run_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/v1/runs/{run_id}").json()
        if run["status"] not in ("queued", "running"):
            return dict(run)
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} still {run['status']} after {timeout} s")


def test_a_project_is_delivered_through_the_api(server: Server) -> None:
    client = server.client(server.key("acme", "manager"))
    created = client.post("/v1/projects", json={"brief": DEMO_BRIEF.read_text(), "budget_usd": 5})
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["name"] == "Todo API" and project["budget_usd"] == 5
    assert "repo_path" not in project  # nothing of the host

    started = client.post(f"/v1/projects/{project['id']}/runs", json={})
    assert started.status_code == 202, started.text
    run = started.json()
    # queued, or already taken by the server's worker
    assert run["status"] in ("queued", "running") and run["model"] == "replay:todo-api.jsonl"
    again = client.post(f"/v1/projects/{project['id']}/runs", json={})
    assert again.status_code == 409 and again.json()["error"]["details"]["run_id"] == run["id"]

    done = _wait(client, run["id"])
    assert done["status"] == "delivered", done
    assert done["url"] and done["finished_at"]

    store = server.app.state.vitco.store
    tasks = client.get(f"/v1/runs/{run['id']}/tasks").json()["items"]
    assert [t["key"] for t in tasks] == [t.key for t in store.tasks(run["id"])]
    assert tasks and all(t["status"] == "done" and t["commit_sha"] for t in tasks)

    events, since = [], 0
    while True:  # paged by sequence number, 7 at a time
        page = client.get(f"/v1/runs/{run['id']}/events", params={"since": since, "limit": 7})
        body = page.json()
        events += body["items"]
        since = body["next_since"]
        if not body["more"]:
            break
    stored = store.events(run["id"])
    assert [e["seq"] for e in events] == [e.id for e in stored]
    assert [e["seq"] for e in events] == sorted({e["seq"] for e in events})
    assert events[-1]["message"].endswith("delivered")
    deploys = client.get(f"/v1/runs/{run['id']}/events", params={"kind": ["deploy"]}).json()
    assert deploys["items"] and {e["kind"] for e in deploys["items"]} == {"deploy"}

    costs = client.get("/v1/costs", params={"run_id": run["id"], "by": "role"}).json()
    calls = store.calls(run_id=run["id"])
    assert sum(row["calls"] for row in costs["rows"]) == len(calls)
    assert {row["key"] for row in costs["rows"]} == {c.role for c in calls}
    tenant = client.get("/v1/costs", params={"by": "project"}).json()
    assert [row["key"] for row in tenant["rows"]] == [project["id"]]

    history = client.get(f"/v1/runs/{run['id']}/history").json()["items"]
    assert history and history[-1]["step"] >= len(tasks)

    listed = client.get("/v1/runs", params={"project_id": project["id"]}).json()["items"]
    assert [r["id"] for r in listed] == [run["id"]]
    assert client.post(f"/v1/runs/{run['id']}/resume").status_code == 409  # delivered

    assert client.post(f"/v1/projects/{project['id']}/archive").status_code == 200
    assert client.get("/v1/projects").json()["items"] == []
    archived = client.get("/v1/projects", params={"state": "archived"}).json()["items"]
    assert [p["id"] for p in archived] == [project["id"]]
    refused = client.post(f"/v1/projects/{project['id']}/runs", json={})
    assert refused.status_code == 409 and "archived" in refused.json()["error"]["message"]


def test_a_queued_run_is_cancelled_and_resumed(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server()
    worker = server.app.state.vitco.runs
    worker.close()  # nothing executes: the run stays queued
    client = server.client(server.key("acme", "admin"))
    project = client.post("/v1/projects", json={"brief": DEMO_BRIEF.read_text()}).json()
    run = client.post(f"/v1/projects/{project['id']}/runs", json={}).json()

    cancelled = client.post(f"/v1/runs/{run['id']}/cancel")
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    assert client.post(f"/v1/runs/{run['id']}/cancel").status_code == 409
    resumed = client.post(f"/v1/runs/{run['id']}/resume")
    assert resumed.status_code == 202 and resumed.json()["status"] in ("queued", "running")
    kinds = [e["kind"] for e in client.get(f"/v1/runs/{run['id']}/events").json()["items"]]
    assert kinds == ["run"]
