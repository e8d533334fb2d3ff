"""Outbound webhooks over real HTTP: a receiver on 127.0.0.1 that fails twice and then
succeeds gets the delivery a third time, each attempt recorded with backoff between them and
every one verifiable with the reference Standard Webhooks library; a receiver that hangs does
not hold up the thread that writes a run's events."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks import Webhook as Reference
from standardwebhooks.webhooks import WebhookVerificationError

from tests.api.conftest import MakeServer
from tests.api.server import Server


class Receiver:
    """A subscriber: answers ``statuses`` in turn (then 200); holds each request while
    ``gate`` is closed."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.url = ""


@contextmanager
def receiving(statuses: list[int]) -> Iterator[Receiver]:
    receiver = Receiver(statuses)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.gate.wait(30)
            receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None: ...

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{http.server_address[1]}/hook"
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.gate.set()
        http.shutdown()
        http.server_close()


def _run(server: Server, tenant: str = "acme") -> str:
    store = server.app.state.vitco.store
    project = store.create_project("p", "/nowhere", tenant_id=tenant)
    brief = store.create_brief(project.id, "b.md", "# p")
    return str(store.create_run(project.id, brief.id, "m", "deliver-project").id)


def _until(check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("not reached in time")


def test_a_delivery_failing_twice_is_retried_with_backoff_and_recorded(
    make_server: MakeServer,
) -> None:
    server = make_server(webhook_allow_private=True, webhook_backoff_s=0.2)
    admin = server.client(server.key("acme", "admin"))
    with receiving([500, 503]) as receiver:
        made = admin.post("/v1/webhooks", json={"url": receiver.url, "events": ["deploy"]})
        assert made.status_code == 201, made.text
        hook_id, secret = made.json()["id"], made.json()["secret"]
        assert "secret" not in admin.get(f"/v1/webhooks/{hook_id}").json()
        run = _run(server)
        store = server.app.state.vitco.store
        store.add_event(run, "step", "not subscribed")
        store.add_event(run, "deploy", "live at http://127.0.0.1:9/", step="deploy")
        server.app.state.vitco.outbound.poke()

        def succeeded() -> Any:
            items = admin.get(f"/v1/webhooks/{hook_id}/deliveries").json()["items"]
            return items if items and items[0]["status"] == "succeeded" else None

        (delivery,) = _until(succeeded)
        assert [t["status_code"] for t in delivery["tries"]] == [500, 503, 200]
        assert delivery["attempts"] == 3 and delivery["event_type"] == "deploy"
        at = [datetime.fromisoformat(t["at"]) for t in delivery["tries"]]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(at)]
        assert gaps[0] >= 0.1 and gaps[1] >= 0.2  # at least half of 0.2 s, then of 0.4 s

        reference = Reference(secret)
        assert len(receiver.got) == 3
        for headers, body in receiver.got:
            assert reference.verify(body, headers)["message"] == "live at http://127.0.0.1:9/"
            assert headers["webhook-id"] == f"whd-{delivery['id']}"  # the same each time
            assert headers["x-vitco-event"] == "deploy"
        forged = dict(receiver.got[0][0]) | {"webhook-id": "whd-other"}
        with pytest.raises(WebhookVerificationError):
            reference.verify(receiver.got[0][1], forged)


def test_a_hanging_subscriber_does_not_hold_up_a_run(make_server: MakeServer) -> None:
    server = make_server(
        webhook_allow_private=True, webhook_workers=1, webhook_queue_size=2, webhook_timeout_s=30
    )
    outbound = server.app.state.vitco.outbound
    admin = server.client(server.key("acme", "admin"))
    with receiving([]) as receiver:
        receiver.gate.clear()  # every request hangs until the test lets it go
        made = admin.post("/v1/webhooks", json={"url": receiver.url, "events": ["*"]})
        hook_id = made.json()["id"]
        run = _run(server)
        store = server.app.state.vitco.store
        store.add_event(run, "run", "first")
        outbound.poke()
        _until(lambda: outbound.queue.qsize() == 0 and not receiver.gate.is_set())

        written: list[int] = []
        held: list[int] = []

        def run_thread() -> None:  # what a run's step does: write its events
            for n in range(200):
                store.add_event(run, "step", f"event {n}")
                written.append(n)
                held.append(outbound.queue.qsize())
                outbound.poke()

        thread = threading.Thread(target=run_thread)
        thread.start()
        thread.join(120)
        assert not thread.is_alive() and len(written) == 200
        assert not receiver.gate.is_set() and receiver.got == []  # still hanging throughout
        assert max(held) <= 2  # the bounded queue; the rest wait in the database
        receiver.gate.set()

        def all_sent() -> Any:
            page = admin.get(f"/v1/webhooks/{hook_id}/deliveries", params={"limit": 200})
            items = page.json()["items"]
            return len(items) == 200 and all(d["status"] == "succeeded" for d in items)

        # 201 events; the page shows the newest 200, every one sent once the receiver answers
        _until(all_sent, timeout=120)
