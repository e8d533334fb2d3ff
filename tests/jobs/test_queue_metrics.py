"""The autoscaling signals on /metrics come from the queue in use: with Redis, a job another
process queued and one it holds show up on the API's /metrics, over real HTTP."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.api.server import serving
from vitco.bootstrap import build_api
from vitco.config import Settings
from vitco.jobs.redis_queue import RedisRunQueue
from vitco.sandbox import Sandbox


def _gauges(text: str) -> dict[str, float]:
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith(("vitco_queue", "vitco_runs_in_progress"))
    }


def test_metrics_report_the_redis_queues_depth_runs_in_progress_and_oldest_lease(
    settings: Settings, sandbox: Sandbox, redis_client: Any, redis_prefix: str
) -> None:
    fleet = settings.model_copy(
        update={
            "redis_url": "redis://127.0.0.1:6379/0",
            "queue_prefix": redis_prefix,
            "worker_concurrency": 1,
        }
    )
    assert fleet.resolved_queue == "redis"
    other_host = RedisRunQueue(redis_client, prefix=redis_prefix)
    app = build_api(fleet, sandbox=sandbox)
    app.state.vitco.runs.drain()  # this server's worker takes nothing: the gauges stay put
    with serving(app) as server:
        for n in range(3):
            other_host.enqueue(f"r-elsewhere{n}", "start", tenant="acme")
        held = other_host.take("worker-on-another-host", 60)
        assert held is not None
        time.sleep(0.3)
        gauges = _gauges(server.client().get("/metrics").text)
    assert gauges["vitco_queue_depth"] == 2
    assert gauges["vitco_runs_in_progress"] == 1
    assert 0.25 <= gauges["vitco_queue_oldest_lease_seconds"] < 60
