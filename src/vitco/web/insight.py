"""``/costs`` (spend by project, role, tier, model and day, budgets, routed against
all-premium) and ``/health`` (providers' breakers and latency, the queue, runs by status,
recent failures).

Both read the API only: ``/v1/costs`` grouped five ways and ``/v1/projects``; the health page
also reads ``/metrics`` (with the server's metrics token when one is set: the page is the
server's own operator view), parsed by prometheus-client's own parser. Figures of the whole
process (breakers, the queue) are shown to admins and managers only.

"All premium" is an estimate: every token of the ledger priced at what the premium tier's
calls cost per token on average. With no premium call in the ledger there is nothing to
estimate from, and the page says so.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client.parser import text_string_to_metric_families

from vitco.web import charts
from vitco.web.api import PageApi
from vitco.web.pages import context, render, require

router = APIRouter(include_in_schema=False)

GROUPS = ("project", "role", "tier", "model", "day")
TROUBLE = ("needs_attention", "failed", "budget_exceeded")
BREAKER = {0: "closed", 1: "half-open", 2: "open"}


def all_premium(tiers: list[dict[str, Any]]) -> float | None:
    """The ledger's tokens priced at the premium tier's average USD per token."""
    premium = [r for r in tiers if r["key"] == "premium"]
    tokens = sum(r["input_tokens"] + r["output_tokens"] for r in premium)
    if not tokens:
        return None
    rate: float = sum(float(r["usd"]) for r in premium) / tokens
    every: int = sum(int(r["input_tokens"]) + int(r["output_tokens"]) for r in tiers)
    return every * rate


@router.get("/costs")
async def costs(request: Request) -> Response:
    session = require(request, "admin", "manager", "viewer")
    async with PageApi(request) as api:
        grouped = await asyncio.gather(*(api.get("/v1/costs", by=by) for by in GROUPS))
        projects = await api.items("/v1/projects", limit=100, state="all")
    by = dict(zip(GROUPS, grouped, strict=True))
    names = {p["id"]: p for p in projects}
    sections = []
    for group in GROUPS:
        rows = by[group]["rows"]
        if group == "day":
            rows = sorted(rows, key=lambda r: r["key"])
        bars = [
            charts.Bar(
                names[r["key"]]["name"] if group == "project" and r["key"] in names else r["key"],
                r["usd"],
                names[r["key"]]["budget_usd"] if group == "project" and r["key"] in names else None,
            )
            for r in rows
        ]
        sections.append(
            {
                "group": group,
                "rows": rows,
                "bars": bars,
                "chart": charts.bars(f"Spend by {group}", bars, prefix=f"c-{group}"),
            }
        )
    routed = by["tier"]["total_usd"]
    return render(
        request,
        "costs.html",
        session=session,
        sections=sections,
        total=routed,
        premium=all_premium(by["tier"]["rows"]),
        usd=charts.usd,
    )


def read_metrics(text: str) -> dict[str, Any]:
    """Breaker states by provider, the queue (jobs waiting, jobs held by workers, the oldest
    lease's age) and runs by status, from Prometheus text."""
    found: dict[str, Any] = {
        "breakers": {},
        "queue_depth": None,
        "in_progress": None,
        "oldest_lease_s": None,
        "runs": {},
    }
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "vitco_breaker_state":
                found["breakers"][sample.labels.get("provider", "?")] = BREAKER.get(
                    int(sample.value), str(sample.value)
                )
            elif sample.name == "vitco_queue_depth":
                found["queue_depth"] = int(sample.value)
            elif sample.name == "vitco_runs_in_progress":
                found["in_progress"] = int(sample.value)
            elif sample.name == "vitco_queue_oldest_lease_seconds":
                found["oldest_lease_s"] = float(sample.value)
            elif sample.name == "vitco_runs":
                found["runs"][sample.labels.get("status", "?")] = int(sample.value)
    return found


@router.get("/health")
async def health(request: Request) -> Response:
    session = require(request, "admin", "manager")
    token = context(request).settings.metrics_token
    async with PageApi(request) as api:
        headers = {"authorization": f"Bearer {token.get_secret_value()}"} if token else {}
        scraped = await api.client.get("/metrics", headers=headers)
        models = await api.get("/v1/costs", by="model")
        troubled = []
        for status in TROUBLE:
            troubled += await api.items("/v1/runs", status=status, limit=10)
        alive = (await api.client.get("/v1/health")).json().get("status")
    metrics = read_metrics(scraped.text) if scraped.status_code == 200 else None
    latency = [
        {
            "model": r["key"],
            "calls": r["calls"],
            "mean_s": r["model_s"] / r["calls"] if r["calls"] else 0.0,
            "retries": r["retries"],
        }
        for r in models["rows"]
    ]
    troubled.sort(key=lambda r: r["created_at"], reverse=True)
    return render(
        request,
        "health.html",
        session=session,
        metrics=metrics,
        latency=latency,
        troubled=troubled[:10],
        alive=alive,
    )
