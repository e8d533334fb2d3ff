"""The metrics read from the store when scraped (runs by status, queue depth), on SQLite and
PostgreSQL, and the model-call counters the meter feeds."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from vitco.jobs.queue import QueueStats, StoreRunQueue
from vitco.observability.metrics import REGISTRY, Joined, StoreCollector, record_model_call
from vitco.store import Store, open_database, stats


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_runs_by_status_and_the_queues_signals_are_read_when_scraped(database_url: str) -> None:
    sessions = open_database(database_url)
    store, queue = Store(sessions), StoreRunQueue(sessions)
    project = store.create_project("p", "/r")
    brief = store.create_brief(project.id, "brief.md", "text")
    runs = [store.create_run(project.id, brief.id, "m", "deliver-project") for _ in range(4)]
    store.update_run(runs[0].id, status="running")
    store.update_run(runs[1].id, status="delivered")
    store.update_run(runs[2].id, status="delivered")
    for run in runs:
        queue.enqueue(run.id, "start")
    taken = queue.take("w")
    assert taken is not None

    registry = CollectorRegistry()
    registry.register(StoreCollector(lambda: stats.runs_by_status(sessions), queue.stats))
    samples = _samples(generate_latest(registry).decode())
    assert samples[("vitco_runs", (("status", "delivered"),))] == 2
    assert samples[("vitco_runs", (("status", "running"),))] == 1
    assert samples[("vitco_runs", (("status", "queued"),))] == 1
    assert samples[("vitco_queue_depth", ())] == 3  # one of the four was taken

    assert samples[("vitco_runs_in_progress", ())] == 1
    assert 0 <= samples[("vitco_queue_oldest_lease_seconds", ())] < 60
    queue.finish(taken)
    assert queue.cancel(runs[3].id) == 1
    assert _samples(generate_latest(registry).decode())[("vitco_queue_depth", ())] == 2


def test_joined_sources_are_scraped_as_one() -> None:
    record_model_call(
        model="acme:big",
        tier="premium",
        role="joiner",
        outcome="ok",
        input_tokens=7,
        output_tokens=3,
        cost_usd=0.25,
    )
    store = StoreCollector(lambda: {"failed": 5}, lambda: QueueStats(9, 2, 4.5))
    samples = _samples(generate_latest(Joined(REGISTRY, store)).decode())
    call = (("model", "acme:big"), ("provider", "acme"), ("role", "joiner"), ("tier", "premium"))
    assert samples[("vitco_runs", (("status", "failed"),))] == 5
    assert samples[("vitco_queue_depth", ())] == 9
    assert samples[("vitco_model_calls_total", tuple(sorted((*call, ("outcome", "ok")))))] >= 1
    assert samples[("vitco_model_cost_usd_total", call)] >= 0.25
