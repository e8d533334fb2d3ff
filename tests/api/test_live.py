"""Live events over real HTTP (uvicorn on 127.0.0.1): the WebSocket and Server-Sent Events
streams of ``/v1/events`` and its page; tenant scoping, refusals before a socket opens,
resuming with ``since``, a client that falls behind; and the demo run's events received in
order through both streams, each reconnecting mid-run and catching up."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from httpx_sse import connect_sse
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.api.server import Server
from vitco.cli.run import DEMO_BRIEF


def _run_of(server: Server, tenant: str, name: str = "p") -> tuple[str, str]:
    """A project and a run of ``tenant`` written straight to the store (no worker)."""
    store = server.app.state.vitco.store
    if tenant not in {t.id for t in server.access.tenants()}:
        server.access.create_tenant(tenant, tenant.title())
    project = store.create_project(name, "/nowhere", tenant_id=tenant)
    brief = store.create_brief(project.id, "b.md", "# b")
    run = store.create_run(project.id, brief.id, "m", "deliver-project")
    return project.id, run.id


def _emit(server: Server, run_id: str, count: int, label: str = "e") -> list[int]:
    store = server.app.state.vitco.store
    return [store.add_event(run_id, "step", f"{label}{i}").id for i in range(count)]


@contextmanager
def _socket(server: Server, key: str | None, **params: Any) -> Iterator[ClientConnection]:
    url = server.url.replace("http://", "ws://") + "/v1/events"
    query = {k: v for k, v in params.items() if v is not None}
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with connect(
        f"{url}?{urlencode(query)}" if query else url, additional_headers=headers, open_timeout=10
    ) as ws:
        yield ws


def _receive(ws: ClientConnection, count: int, timeout: float = 15) -> list[dict[str, Any]]:
    return [json.loads(ws.recv(timeout=timeout)) for _ in range(count)]


def _silent(ws: ClientConnection, wait: float = 0.6) -> bool:
    """Whether nothing arrives within ``wait`` seconds."""
    try:
        ws.recv(timeout=wait)
    except TimeoutError:
        return True
    return False


def _refusal(server: Server, key: str | None, **params: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(InvalidStatus) as refused, _socket(server, key, **params):
        pass
    response = refused.value.response
    return response.status_code, json.loads(response.body or b"{}")


def test_a_socket_receives_its_tenants_events_in_order_and_nothing_else(server: Server) -> None:
    mine = server.key("acme", "viewer")  # a viewer may listen
    theirs = server.key("other", "admin")
    project, run = _run_of(server, "acme")
    _, other_run = _run_of(server, "other")
    with (
        _socket(server, mine) as tenant,
        _socket(server, mine, run_id=run) as one,
        _socket(server, theirs) as other,
    ):
        sent = _emit(server, run, 3)
        _emit(server, other_run, 2, "secret")
        sent += _emit(server, run, 2)
        got = _receive(tenant, 5)
        assert [e["seq"] for e in got] == sent
        assert [e["seq"] for e in _receive(one, 5)] == sent
        assert {(e["project_id"], e["run_id"]) for e in got} == {(project, run)}
        assert [e["message"] for e in got] == ["e0", "e1", "e2", "e0", "e1"]
        theirs_got = _receive(other, 2)
        assert [e["message"] for e in theirs_got] == ["secret0", "secret1"]
        assert _silent(tenant) and _silent(one) and _silent(other)


def test_a_socket_is_refused_before_it_opens_with_the_error_body(server: Server) -> None:
    key = server.key("acme", "viewer")
    _, run = _run_of(server, "acme")
    _, theirs = _run_of(server, "other")

    status, body = _refusal(server, None)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    status, body = _refusal(server, key, run_id=theirs)  # another tenant's: like a missing one
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = _refusal(server, key, project_id="p-000000000000")
    assert status == 404 and body["error"]["details"] == {"kind": "project"}
    with _socket(server, key, run_id=run) as ws:  # and a good one opens
        assert _emit(server, run, 1) == [e["seq"] for e in _receive(ws, 1)]


def test_a_socket_over_the_rate_limit_is_refused_with_429(make_server: Any) -> None:
    server = make_server(api_rate_burst=1, api_rate_per_s=0.01)
    key = server.key("acme", "viewer")
    with _socket(server, key):
        status, body = _refusal(server, key)
    assert status == 429 and body["error"]["code"] == "rate_limited"


def test_since_resumes_after_a_disconnect_with_nothing_lost_or_repeated(server: Server) -> None:
    key = server.key("acme", "manager")
    _, run = _run_of(server, "acme")
    before = _emit(server, run, 3)
    with _socket(server, key, run_id=run) as ws:  # since=0: what came before, then live
        first = _receive(ws, 3)
        before += _emit(server, run, 1)
        first += _receive(ws, 1)
    assert [e["seq"] for e in first] == before
    last = first[1]["seq"]  # say the client had handled two when it went away
    missed = _emit(server, run, 3)
    with _socket(server, key, run_id=run, since=last) as ws:
        resumed = _receive(ws, 5)
        live = _emit(server, run, 2)
        resumed += _receive(ws, 2)
        assert _silent(ws)
    assert [e["seq"] for e in resumed] == before[2:] + missed + live


def test_a_client_that_falls_behind_is_told_where_to_resume(server: Server) -> None:
    key = server.key("acme", "viewer")
    _, run = _run_of(server, "acme")
    live = server.app.state.vitco.live
    live.buffer = 5
    got: list[int] = []
    with _socket(server, key, run_id=run) as ws:
        # the socket subscribes after it opens: events committed before that are caught up
        # from the store, whatever the buffer (so they would arrive, and nothing lag)
        deadline = time.monotonic() + 10
        while live.listeners < 1:
            assert time.monotonic() < deadline, "the socket never subscribed"
            time.sleep(0.02)
        with server.app.state.vitco.store.step():  # 20 events committed at once
            _emit(server, run, 20)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                got.append(json.loads(ws.recv(timeout=15))["seq"])
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    since = int(closed.value.rcvd.reason.removeprefix("resume with since="))
    stored = _stored(server, run)
    assert len(stored) == 20 and got == [s for s in stored if s <= since] and len(got) <= 5
    with _socket(server, key, run_id=run, since=since) as ws:
        rest = _receive(ws, len(stored) - len(got))
    assert got + [e["seq"] for e in rest] == stored


def _stored(server: Server, run_id: str) -> list[int]:
    return [e.id for e in server.app.state.vitco.store.events(run_id)]


def test_server_sent_events_resume_with_last_event_id(server: Server) -> None:
    key = server.key("acme", "client")
    project, run = _run_of(server, "acme")
    _, other = _run_of(server, "acme", "q")
    client = server.client(key)
    sent = _emit(server, run, 2) + _emit(server, other, 1)

    def read(count: int, **headers: str) -> list[Any]:
        with connect_sse(
            client, "GET", "/v1/events", params={"project_id": project}, headers=headers
        ) as source:
            assert source.response.headers["content-type"].startswith("text/event-stream")
            events = []
            for sse in source.iter_sse():
                events.append(sse)
                if len(events) == count:
                    return events
        raise AssertionError("the stream ended")

    got = read(2)
    assert [int(e.id) for e in got] == sent[:2]  # the other project's event is not sent
    assert [json.loads(e.data)["message"] for e in got] == ["e0", "e1"]
    later = _emit(server, run, 2)
    resumed = read(2, **{"Last-Event-ID": got[0].id})
    assert [int(e.id) for e in resumed] == [sent[1], later[0]]


def test_the_page_answers_the_tenants_events_after_since(server: Server) -> None:
    key = server.key("acme", "viewer")
    project, run = _run_of(server, "acme")
    _, other = _run_of(server, "other")
    sent = _emit(server, run, 5)
    _emit(server, other, 2)
    client = server.client(key)
    page = client.get("/v1/events", params={"limit": 3}).json()
    assert [e["seq"] for e in page["items"]] == sent[:3] and page["more"]
    rest = client.get("/v1/events", params={"since": page["next_since"]}).json()
    assert [e["seq"] for e in rest["items"]] == sent[3:] and not rest["more"]
    assert all(e["project_id"] == project for e in page["items"] + rest["items"])
    theirs = server.client(server.key("other", "viewer")).get("/v1/events").json()
    assert {e["message"] for e in theirs["items"]} == {"e0", "e1"}
    assert len(theirs["items"]) == 2
    assert client.get("/v1/events", params={"run_id": "r-000000000000"}).status_code == 404


def _wait_done(client: httpx.Client, run_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/v1/runs/{run_id}").json()
        if run["status"] not in ("queued", "running"):
            return dict(run)
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} not finished after {timeout} s")


def _final(event: dict[str, Any]) -> bool:
    return bool(event["kind"] == "run" and event["message"].endswith(" delivered"))


def _socket_with_a_reconnect(server: Server, key: str, run_id: str) -> list[dict[str, Any]]:
    """The run's events through a WebSocket that goes away after the third and comes back
    with ``since`` a second later."""
    got: list[dict[str, Any]] = []
    with _socket(server, key, run_id=run_id) as ws:
        got += _receive(ws, 3, timeout=120)
    time.sleep(1.0)
    with _socket(server, key, run_id=run_id, since=got[-1]["seq"]) as ws:
        while not _final(got[-1]):
            got += _receive(ws, 1, timeout=120)
    return got


def _sse_with_a_reconnect(client: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    headers: dict[str, str] = {}
    for stop_after in (5, None):
        with connect_sse(
            client, "GET", "/v1/events", params={"run_id": run_id}, headers=headers
        ) as source:
            for sse in source.iter_sse():
                assert sse.event == "message", sse
                got.append(json.loads(sse.data))
                headers = {"Last-Event-ID": sse.id}
                if _final(got[-1]) or (stop_after and len(got) == stop_after):
                    break
        if stop_after:  # away a second before coming back; none after the last event
            time.sleep(1.0)
    return got


@pytest.mark.slow
def test_the_demo_runs_events_arrive_in_order_through_both_streams(server: Server) -> None:
    manager = server.client(server.key("acme", "manager"))
    viewer = server.key("acme", "viewer")
    project = manager.post("/v1/projects", json={"brief": DEMO_BRIEF.read_text()}).json()
    run = manager.post(f"/v1/projects/{project['id']}/runs", json={}).json()

    results: dict[str, list[dict[str, Any]]] = {}
    errors: list[BaseException] = []

    def listen(name: str, read: Any, *args: Any) -> None:
        try:
            results[name] = read(*args)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    threads = [
        threading.Thread(
            target=listen, args=("ws", _socket_with_a_reconnect, server, viewer, run["id"])
        ),
        threading.Thread(
            target=listen, args=("sse", _sse_with_a_reconnect, server.client(viewer), run["id"])
        ),
    ]
    for thread in threads:
        thread.start()
    assert _wait_done(manager, run["id"])["status"] == "delivered"
    for thread in threads:
        thread.join(150)
    assert not errors, errors

    stored = _stored(server, run["id"])
    assert len(stored) > 8  # the demo says a good deal: both streams reconnected mid-run
    for name, got in results.items():
        seqs = [e["seq"] for e in got]
        assert seqs == stored, name  # every event, in order, none twice
        assert {e["run_id"] for e in got} == {run["id"]}
    kinds = {e["kind"] for e in results["ws"]}
    assert {"step", "model", "deploy", "run"} <= kinds


def test_a_stream_ends_when_its_key_is_revoked(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key checked only when the stream opened would go on listening after it was revoked:
    both streams check it again every RECHECK_S and end."""
    from vitco.api.keys import prefix_of
    from vitco.api.routes import events

    monkeypatch.setattr(events, "RECHECK_S", 0.3)
    key = server.key("acme", "viewer")
    _, run = _run_of(server, "acme")
    prefix = prefix_of(key)
    assert prefix is not None
    found = server.access.key_by_prefix(prefix)
    assert found is not None
    key_id = found.id
    client = server.client(key)
    with (
        _socket(server, key, run_id=run) as ws,
        connect_sse(client, "GET", "/v1/events", params={"run_id": run}) as source,
    ):
        sent = _emit(server, run, 1)
        assert [e["seq"] for e in _receive(ws, 1)] == sent
        sse = source.iter_sse()
        assert int(next(sse).id) == sent[0]
        time.sleep(0.8)  # still valid: still open
        assert _silent(ws, 0.1)
        server.access.revoke_key("acme", key_id)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        refused = next(e for e in sse if e.data)  # keep-alive comments carry nothing
        assert refused.event == "refused", refused
        assert json.loads(refused.data)["error"]["code"] == "unauthorized"
        assert next(sse, None) is None  # and the stream ended
    assert _refusal(server, key, run_id=run)[0] == 401  # nor does it open again
