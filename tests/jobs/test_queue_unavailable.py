"""With the Redis run queue away, the API answers 503 naming what to check and loses nothing:
the new run stays, resumable; a resume asked meanwhile leaves the run as it was. A worker
whose queue is away keeps trying and is not ready."""

from __future__ import annotations

from typing import Any

from tests.api.server import serving
from tests.processes import free_port
from vitco.bootstrap import build_api
from vitco.cli.run import DEMO_BRIEF
from vitco.config import Settings
from vitco.jobs.embedded import EmbeddedWorker
from vitco.jobs.health import HealthServer, worker_checks
from vitco.jobs.redis_queue import RedisRunQueue, connect
from vitco.sandbox import Sandbox
from vitco.store import open_store


def _dead_redis() -> str:
    """A Redis URL where nothing listens (a port just freed)."""
    return f"redis://127.0.0.1:{free_port()}/0"


def test_the_api_answers_503_and_keeps_the_run_when_the_queue_is_away(
    settings: Settings, sandbox: Sandbox
) -> None:
    away = settings.model_copy(
        update={"redis_url": _dead_redis(), "queue": "redis", "model": "test"}
    )
    app = build_api(away, sandbox=sandbox)
    app.state.vitco.runs.drain()
    with serving(app) as server:
        client = server.client(server.key("acme", "admin"))
        project = client.post("/v1/projects", json={"brief": DEMO_BRIEF.read_text()}).json()
        refused = client.post(f"/v1/projects/{project['id']}/runs", json={})
        assert refused.status_code == 503, refused.text
        error = refused.json()["error"]
        assert error["code"] == "unavailable" and "redis" in error["message"]
        assert "VITCO_REDIS_URL" in error["details"]["fix"]
        assert refused.headers["retry-after"] == "5"

        (run,) = client.get("/v1/runs").json()["items"]  # the run was kept
        assert run["status"] == "interrupted" and "unavailable" in run["reason"]
        again = client.post(f"/v1/runs/{run['id']}/resume")
        assert again.status_code == 503
    assert open_store(away).get_run(run["id"]).status == "interrupted"  # as it was


def test_a_worker_whose_queue_is_away_is_not_ready_and_keeps_trying(
    settings: Settings, redis_client: Any, redis_prefix: str
) -> None:
    store = open_store(settings)
    queue = RedisRunQueue(connect(_dead_redis()), prefix=redis_prefix)
    worker = EmbeddedWorker(queue, store, lambda job: None, poll_s=0.05)
    worker.start()
    probes = HealthServer(worker_checks(worker))
    try:
        failed = probes.failures()
        assert set(failed) == {"queue"} and "unavailable" in failed["queue"]
        assert worker.wait(0.3) is False  # still alive, retrying
    finally:
        worker.close(5)
        probes.close()
    assert set(probes.failures()) == {"queue", "worker"}  # and a closed worker takes nothing
