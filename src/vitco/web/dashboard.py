"""The operators' pages: ``/`` (projects and runs, start a run from a brief) and
``/runs/{id}`` (the graph, timeline, tasks, model calls, deployment and the actions the role
may take). ``/runs/{id}/parts`` is the same run page's changing parts, fetched again by the
page's script whenever the live event stream brings something new.

Every figure is read from ``/v1`` as the browser's session (``vitco.web.api``); the buttons
call ``/v1`` from the browser (with the session's CSRF token) and are only drawn for a role
the permission matrix lets call them; the API refuses the others all the same.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from vitco.api.sessions import Session
from vitco.web import graph
from vitco.web.api import PageApi
from vitco.web.exceptions import ApiFailed
from vitco.web.pages import HEADERS, can, context, render, require
from vitco.web.runview import (
    ACTIVE,
    RESUMABLE,
    Graphs,
    model_calls,
    position,
    timeline,
)
from vitco.workflow.exceptions import WorkflowError
from vitco.workflow.template import load, template_files

router = APIRouter(include_in_schema=False)

OPERATORS = ("admin", "manager", "viewer")


def graphs_of(request: Request, workflow: str) -> Graphs | None:
    """The run's template (by name, from the server's template folders), or None if it is
    gone or no longer valid (the page still shows everything else)."""
    try:
        template, _, _ = load(workflow, context(request).settings.home)
        return Graphs.of(template)
    except (WorkflowError, ValueError, OSError):
        return None


@router.get("/")
async def dashboard(request: Request) -> Response:
    session = require(request)
    if session.caller.role == "client":
        return RedirectResponse("/portal", status_code=303, headers=HEADERS)
    async with PageApi(request) as api:
        projects, runs, costs = await asyncio.gather(
            api.items("/v1/projects", limit=100),
            api.items("/v1/runs", limit=100),
            api.get("/v1/costs", by="run"),
        )
        spent = {row["key"]: row["usd"] for row in costs["rows"]}
        names = {p["id"]: p["name"] for p in projects}
        for run in runs:
            run["cost_usd"] = spent.get(run["id"], 0.0)
            run["project_name"] = names.get(run["project_id"], run["project_id"])
            run["step"] = run["agent"] = None
            if run["status"] in ACTIVE:
                history = await api.items(f"/v1/runs/{run['id']}/history")
                step = history[-1]["next"][0] if history and history[-1]["next"] else None
                graphs = graphs_of(request, run["workflow"])
                run["step"] = step
                run["agent"] = graphs.role_of(step) if graphs else None
        latest: dict[str, dict[str, Any]] = {}
        for run in runs:  # newest first: the first seen is the latest
            latest.setdefault(run["project_id"], run)
        since = await head(api, runs)
    may_run = can(session, "POST /v1/projects/{project_id}/runs")
    may_start = can(session, "POST /v1/projects") and may_run
    return render(
        request,
        "dashboard.html",
        session=session,
        projects=projects,
        runs=runs,
        latest=latest,
        total=costs["total_usd"],
        may_start=may_start,
        may_run=may_run,
        workflows=sorted(template_files(context(request).settings.home)),
        since=since,
    )


async def head(api: PageApi, runs: list[dict[str, Any]]) -> int:
    """The last event number of the runs that can still change and of the newest run: the
    page's live stream starts after it (rather than sending the tenant's whole history)."""
    watched = [r for r in runs if r["status"] in ACTIVE] + runs[:1]
    last = 0
    for run in {r["id"]: r for r in watched}.values():
        events = await api.events(run["id"])
        last = max([last] + [e["seq"] for e in events[-1:]])
    return last


async def run_parts(
    request: Request, api: PageApi, session: Session, run_id: str
) -> dict[str, Any]:
    """Everything the run page shows, read from the API."""
    run = await api.get(f"/v1/runs/{run_id}")
    going = run["status"] in ACTIVE

    async def checkpoints() -> list[dict[str, Any]]:
        # a run is forked once it stopped; reading its checkpoints is the costly read
        return [] if going else await api.items(f"/v1/runs/{run_id}/history")

    (project, tasks, report, events, history, deployments, plans, commits) = await asyncio.gather(
        api.get(f"/v1/projects/{run['project_id']}"),
        api.items(f"/v1/runs/{run_id}/tasks"),
        api.get(f"/v1/runs/{run_id}/report"),
        api.events(run_id),
        checkpoints(),
        api.items("/v1/deployments", project_id=run["project_id"]),
        api.items(f"/v1/runs/{run_id}/artifacts", kind="plan"),
        api.items(f"/v1/runs/{run_id}/commits"),
    )
    graphs = graphs_of(request, run["workflow"])
    status = run["status"]
    drawings = []
    step = agent = None
    if graphs is not None:
        at = position(graphs, events, status)
        step, agent = at.step, graphs.role_of(at.step)
        drawings.append(
            graph.svg(
                graphs.main,
                title=f"Workflow {graphs.main.name}",
                prefix="g-main",
                current=at.main,
                visits=at.visits_main,
            )
        )
        if graphs.flow is not None:
            drawings.append(
                graph.svg(
                    graphs.flow,
                    title=f"Per task ({graphs.map_node}): the task flow",
                    prefix="g-flow",
                    current=at.flow,
                    visits=at.visits_flow,
                )
            )
    tests: dict[str, dict[str, Any]] = {}
    for row in report["test_runs"]:
        if row["task"]:
            tests[row["task"]] = row  # the last test run of each task
    deployment = next((d for d in deployments if d["run_id"] == run_id), None)
    return {
        "run": run,
        "project": project,
        "tasks": tasks,
        "tests": tests,
        "report": report,
        "events": events,
        "calls": model_calls(events),
        "timeline": timeline(events, history),
        "last_seq": events[-1]["seq"] if events else 0,
        "drawings": drawings,
        "step": step,
        "agent": agent,
        "deployment": deployment,
        "commits": commits,
        "plan_tasks": plans[-1]["content"].get("tasks", []) if plans else [],
        "actions": {
            "cancel": status in ACTIVE and can(session, "POST /v1/runs/{run_id}/cancel"),
            "resume": status in RESUMABLE and can(session, "POST /v1/runs/{run_id}/resume"),
            "answer": status == "awaiting_approval"
            and can(session, "POST /v1/runs/{run_id}/approve"),
            "budget": can(session, "PUT /v1/projects/{project_id}/budget"),
            "fork": status not in ACTIVE and can(session, "POST /v1/runs/{run_id}/fork"),
            "may_fork": can(session, "POST /v1/runs/{run_id}/fork"),
        },
    }


@router.get("/runs/{run_id}")
async def run_page(request: Request, run_id: str) -> Response:
    session = require(request, *OPERATORS)
    async with PageApi(request) as api:
        parts = await run_parts(request, api, session, run_id)
    return render(request, "run.html", session=session, **parts)


@router.get("/runs/{run_id}/parts")
async def run_page_parts(request: Request, run_id: str) -> Response:
    session = require(request, *OPERATORS)
    async with PageApi(request) as api:
        try:
            parts = await run_parts(request, api, session, run_id)
        except ApiFailed as exc:
            return Response(exc.message, status_code=exc.status, headers=HEADERS)
    return render(request, "run_parts.html", session=session, **parts)
