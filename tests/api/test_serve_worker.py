"""``VITCO_SERVE_WORKER=false`` (the API of a fleet): runs started through the API are queued
for the ``vitco worker`` processes and none executes in the serving process; a cancel of a
queued run still works there."""

from __future__ import annotations

from tests.api.conftest import MakeServer
from vitco.api.deps import Elsewhere
from vitco.cli.run import DEMO_BRIEF
from vitco.client import VitcoClient


def test_an_api_without_a_worker_queues_runs_for_the_fleet(make_server: MakeServer) -> None:
    server = make_server(serve_worker=False)
    ctx = server.app.state.vitco
    assert isinstance(ctx.runs, Elsewhere)
    api = VitcoClient(server.client(server.key("acme", "manager")))
    projects = [api.create_project(DEMO_BRIEF.read_text()) for _ in range(2)]
    runs = [api.start_run(p.id).id for p in projects]
    assert ctx.queue.stats().depth == 2  # waiting for a worker: nobody here takes them
    assert ctx.queue.stats().taken == 0
    assert [api.run(r).status for r in runs] == ["queued", "queued"]
    assert api.cancel(runs[0]).status == "cancelled"
    assert ctx.queue.stats().depth == 1
