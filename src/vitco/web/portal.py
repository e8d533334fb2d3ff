"""The client portal, ``/portal``: a client's own projects (its tenant's, as the API scopes
every read), a brief to submit, and for each project its progress in plain words, the
approval it is asked for, the repository to download, the live app and the mails it was sent.

The mails are shown as text: parsed with the standard library's ``email`` package and printed
escaped (a mail quotes the brief and the model's words). Links lead only to http(s) URLs.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from vitco.web.api import PageApi
from vitco.web.dashboard import graphs_of, head
from vitco.web.exceptions import ApiFailed
from vitco.web.pages import HEADERS, can, render, require
from vitco.web.runview import ACTIVE, Graphs, in_words, position

router = APIRouter(include_in_schema=False)

MAX_MAIL_CHARS = 20_000


def read_mail(data: bytes) -> dict[str, str]:
    """Subject, sender, date and the text of a mail (RFC 5322)."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    text = ""
    if body is not None:
        try:
            text = str(body.get_content())
        except (LookupError, ValueError):
            text = "(this mail's text could not be read)"
    return {
        "subject": str(message.get("subject", "")),
        "sender": str(message.get("from", "")),
        "date": str(message.get("date", "")),
        "text": text[:MAX_MAIL_CHARS],
    }


@router.get("/portal")
async def portal(request: Request) -> Response:
    session = require(request)
    async with PageApi(request) as api:
        projects, runs = await asyncio.gather(
            api.items("/v1/projects", limit=100), api.items("/v1/runs", limit=100)
        )
        since = await head(api, runs)
    latest: dict[str, dict[str, Any]] = {}
    for run in runs:  # newest first: the first seen is the latest
        latest.setdefault(run["project_id"], run)
    for project in projects:
        run = latest.get(project["id"])
        project["words"] = in_words(run["status"] if run else None, None, [])
        project["status"] = run["status"] if run else "waiting"
    return render(
        request,
        "portal.html",
        session=session,
        projects=projects,
        since=since,
        may_submit=can(session, "POST /v1/projects"),
    )


async def project_parts(request: Request, api: PageApi, project_id: str) -> dict[str, Any]:
    project, runs = await asyncio.gather(
        api.get(f"/v1/projects/{project_id}"), api.items("/v1/runs", project_id=project_id)
    )
    delivered = next((r for r in runs if r["status"] == "delivered"), None)
    run = runs[0] if runs else None
    if run is not None and run["status"] not in ACTIVE and delivered is not None:
        run = delivered  # a client follows what it got, not a fork the team dropped
    tasks: list[dict[str, Any]] = []
    words = in_words(None, None, [])
    deployment = None
    mails: list[dict[str, str]] = []
    question = None
    repo: dict[str, Any] | None = None
    has_repo = False
    if run is not None:
        tasks, events, report, deployments = await asyncio.gather(
            api.items(f"/v1/runs/{run['id']}/tasks"),
            api.events(run["id"]),
            api.get(f"/v1/runs/{run['id']}/report"),
            api.items("/v1/deployments", project_id=project_id),
        )
        graphs: Graphs | None = graphs_of(request, run["workflow"])
        step = position(graphs, events, run["status"]).step if graphs else None
        words = in_words(run["status"], step, tasks)
        question = run["reason"] if run["status"] == "awaiting_approval" else None
        deployment = next((d for d in deployments if d["status"] != "stopped"), None)
        sent: list[tuple[str, str, int]] = []  # (when, run, n) of every mail of the project
        for earlier in runs:
            listed = await api.items(f"/v1/runs/{earlier['id']}/mails")
            sent += [(str(m["sent_at"]), str(earlier["id"]), int(m["n"])) for m in listed]
        for _at, run_id, n in sorted(sent, reverse=True):  # newest first
            try:
                answer = await api.response(f"/v1/runs/{run_id}/mails/{n}")
            except ApiFailed:
                continue  # gone from the outbox since it was listed
            mails.append(read_mail(answer.content))
        if delivered is not None and delivered["id"] != run["id"]:
            report = await api.get(f"/v1/runs/{delivered['id']}/report")
        repo = delivered or run
        has_repo = report["commits"] > 0
    return {
        "project": project,
        "run": run,
        "tasks": tasks,
        "words": words,
        "question": question,
        "deployment": deployment,
        "repo": repo if has_repo else None,
        "mails": mails,
        "live": run is not None and run["status"] in ACTIVE,
    }


@router.get("/portal/projects/{project_id}")
async def portal_project(request: Request, project_id: str) -> Response:
    session = require(request)
    async with PageApi(request) as api:
        parts = await project_parts(request, api, project_id)
    may_answer = can(session, "POST /v1/runs/{run_id}/approve")
    return render(request, "portal_project.html", session=session, may_answer=may_answer, **parts)


@router.get("/portal/projects/{project_id}/parts")
async def portal_project_parts(request: Request, project_id: str) -> Response:
    session = require(request)
    async with PageApi(request) as api:
        try:
            parts = await project_parts(request, api, project_id)
        except ApiFailed as exc:
            return Response(exc.message, status_code=exc.status, headers=HEADERS)
    may_answer = can(session, "POST /v1/runs/{run_id}/approve")
    return render(request, "portal_parts.html", session=session, may_answer=may_answer, **parts)
