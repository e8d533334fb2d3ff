"""/metrics and the structured logs of vitco serve, over real HTTP: the demo run through the
API, then the scrape's values checked against what the store recorded (runs by status, the
ledger's calls, tokens and cost by role, the steps that ran, the requests made) and the log
lines checked for their ids and for secrets."""

from __future__ import annotations

import io
import json
import logging
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from tests.api.conftest import MakeServer
from vitco.bootstrap import configure_logging
from vitco.cli.run import DEMO_BRIEF
from vitco.config import Settings
from vitco.llm.breaker import BreakerBoard, BreakerPolicy

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

PROVIDER_KEY = "sk-PLANTEDprovider0123456789abcdefghij"
PATH_KEY = "vk_00112233aabb_PLANTEDpathSECRET0123456789abcdef"


def scrape(client: httpx.Client) -> Samples:
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def summed(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over the series that have ``labels`` (any other labels)."""
    want = set(labels.items())
    return sum(v for (n, lbl), v in samples.items() if n == name and want <= lbl)


@pytest.mark.slow
@pytest.mark.usefixtures("standin_toolchain")  # about metrics, not the toolchain
def test_a_demo_run_shows_in_metrics_and_logs(
    make_server: MakeServer, api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", PROVIDER_KEY)  # a provider key the server knows
    stream = io.StringIO()
    undo = configure_logging(api_settings, stream)
    try:
        server = make_server()
        key = server.key("acme", "manager")
        client, anonymous = server.client(key), server.client()
        before = scrape(anonymous)

        created = client.post("/v1/projects", json={"brief": DEMO_BRIEF.read_text()})
        project = created.json()
        run = client.post(f"/v1/projects/{project['id']}/runs", json={}).json()
        polls = 0
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            polls += 1
            if client.get(f"/v1/runs/{run['id']}").json()["status"] not in ("queued", "running"):
                break
            time.sleep(0.5)
        assert client.get(f"/v1/runs/{run['id']}").json()["status"] == "delivered"
        polls += 1
        assert client.get(f"/v1/projects/{PATH_KEY}").status_code == 404  # a key in a path
        assert server.client(PATH_KEY).get("/v1/projects").status_code == 401
        try:  # a provider error that echoes the key, as vendors' 401 bodies do
            raise RuntimeError(f"401 from openai: invalid key {PROVIDER_KEY}")
        except RuntimeError:
            logging.getLogger("vitco.llm").exception("provider refused", extra={"key": key})
        breakers = BreakerBoard(BreakerPolicy(failures=1, cooldown_s=60))
        breakers.get("metrics-flaky").failure("503")
        after = scrape(anonymous)
        store = server.app.state.vitco.store
        calls = store.calls(run_id=run["id"])
        tasks = store.tasks(run["id"])
    finally:
        undo()

    # runs by status and the queue: read from the store
    assert after[("vitco_runs", frozenset({("status", "delivered")}))] == 1
    assert after[("vitco_queue_depth", frozenset())] == 0

    # model calls, tokens and cost by role: what the ledger recorded for the run
    assert calls
    for role, count in Counter(c.role for c in calls).items():
        mine = [c for c in calls if c.role == role]
        assert (
            summed(after, "vitco_model_calls_total", role=role)
            - summed(before, "vitco_model_calls_total", role=role)
            == count
        )
        for direction, tokens in (
            ("input", sum(c.input_tokens for c in mine)),
            ("output", sum(c.output_tokens for c in mine)),
        ):
            got = summed(after, "vitco_model_tokens_total", role=role, direction=direction)
            assert (
                got - summed(before, "vitco_model_tokens_total", role=role, direction=direction)
                == tokens
            )
        cost = summed(after, "vitco_model_cost_usd_total", role=role) - summed(
            before, "vitco_model_cost_usd_total", role=role
        )
        assert cost == pytest.approx(sum(c.cost_usd for c in mine))
    first = calls[0]
    labels = {"model": first.model, "tier": first.tier or "", "role": first.role}
    assert (
        summed(after, "vitco_model_calls_total", provider=first.model.partition(":")[0], **labels)
        >= 1
    )
    hits = summed(after, "vitco_model_cache_hits_total") - summed(
        before, "vitco_model_cache_hits_total"
    )
    assert hits == sum(c.cache_hit for c in calls)
    assert after[("vitco_breaker_state", frozenset({("provider", "metrics-flaky")}))] == 2

    # step latency by node: each project step once, each task's implement at least once
    for node in ("analyze", "plan", "integrate", "deploy", "deliver"):
        assert delta(before, after, "vitco_step_duration_seconds_count", node=node) == 1, node
    assert delta(before, after, "vitco_step_duration_seconds_count", node="implement") >= len(tasks)
    assert delta(before, after, "vitco_step_duration_seconds_sum", node="analyze") > 0

    # HTTP by route template and status
    http = "vitco_http_requests_total"
    assert delta(before, after, http, method="POST", route="/v1/projects", status="201") == 1
    assert (
        delta(before, after, http, method="GET", route="/v1/runs/{run_id}", status="200") == polls
    )
    assert (
        delta(before, after, http, method="GET", route="/v1/projects/{project_id}", status="404")
        == 1
    )
    assert delta(before, after, http, method="GET", route="/v1/projects", status="401") == 1
    assert (
        delta(
            before,
            after,
            "vitco_http_request_duration_seconds_count",
            method="POST",
            route="/v1/projects",
        )
        == 1
    )

    # the logs: JSON lines with their ids, and no secret in any of them
    text = stream.getvalue()
    for secret in (key, key.split("_", 2)[2], PROVIDER_KEY, PATH_KEY, "PLANTEDpathSECRET"):
        assert secret not in text
    lines: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines()]
    access = [line for line in lines if line["logger"] == "vitco.api.access"]
    # create, start, the polls, 404, 401 and the first scrape (the last may be logged late)
    assert len([a for a in access if a["route"] != "/metrics"]) == polls + 4
    created_line = next(a for a in access if a["route"] == "/v1/projects" and a["method"] == "POST")
    assert created_line["request_id"] == created.headers["x-request-id"]
    assert created_line["tenant_id"] == "acme" and created_line["status"] == 201
    started = next(a for a in access if a["route"] == "/v1/projects/{project_id}/runs")
    assert started["project_id"] == project["id"] and started["tenant_id"] == "acme"
    assert all(a["run_id"] == run["id"] for a in access if a["route"] == "/v1/runs/{run_id}")
    assert all(len(a["request_id"]) == 32 for a in access)
    ids = {"run_id": run["id"], "project_id": project["id"], "tenant_id": "acme"}
    steps = [line for line in lines if line["logger"] == "vitco.workflow"]
    assert {s["node"] for s in steps} >= {"analyze", "implement", "deliver"}
    assert all({k: s.get(k) for k in ids} == ids for s in steps)  # task threads included
    jobs = [line for line in lines if line["logger"] == "vitco.jobs"]
    assert len(jobs) == 2 and all({k: j.get(k) for k in ids} == ids for j in jobs)
    refused = next(line for line in lines if line["logger"] == "vitco.llm")
    assert "RuntimeError" in refused["exception"]
    assert refused["key"] == "_".join(key.split("_", 2)[:2]) + "_[redacted]"  # prefix stays


@pytest.mark.parametrize("token", [None, "scrape-token-0123456789"])
def test_metrics_needs_the_token_when_one_is_set(
    make_server: MakeServer, token: str | None
) -> None:
    server = make_server(metrics_token=SecretStr(token) if token else None)
    anonymous = server.client()
    assert "/metrics" not in anonymous.get("/v1/openapi.json").json()["paths"]
    plain = anonymous.get("/metrics")
    if token is None:
        assert plain.status_code == 200 and "vitco_runs" in plain.text
        return
    assert plain.status_code == 401 and plain.json()["error"]["code"] == "unauthorized"
    wrong = anonymous.get("/metrics", headers={"Authorization": "Bearer scrape-token-01234"})
    assert wrong.status_code == 401
    a_key = server.client(server.key("acme", "admin")).get("/metrics")  # an API key is not it
    assert a_key.status_code == 401
    good = anonymous.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert good.status_code == 200 and "vitco_queue_depth 0.0" in good.text
