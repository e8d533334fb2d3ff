"""The CLI's remote mode: ``vitco --server URL CMD`` (or ``VITCO_SERVER``) drives a
``vitco serve`` through the typed client (``vitco.client``) instead of the local data dir,
with the key in ``VITCO_API_KEY``.

``run``, ``status``, ``show``, ``approve``/``reject``, ``resume`` and ``costs`` print what they
print locally, from the same functions (the same ``--json`` shape; where the local output names
a path of this host, the remote one names the API's address of the same thing). Ids are taken
whole or as a unique prefix, as locally (``r-3f9a``, or ``3f9a`` for a run or project): the
server lists the tenant's runs and projects whose id starts with it (``id_prefix``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from vitco.cli.output import console, emit_json, err_console, fail, load_settings, verbosity
from vitco.cli.summary import print_report, with_next

if TYPE_CHECKING:
    from vitco.client import VitcoClient

_server: str | None = None
POLL_S = 1.0


def set_server(url: str | None) -> None:
    """Set by the root command from ``--server`` for the command it runs, reset after."""
    global _server
    _server = url


@dataclass(frozen=True)
class Event:
    """An event the API answered, as ``vitco status`` and ``logs`` print events."""

    id: int
    ts: datetime
    kind: str
    task: str | None
    message: str


def connect(as_json: bool) -> VitcoClient | None:
    """A client of the server the command line or ``VITCO_SERVER`` names; None in local mode."""
    if _server is None:
        settings = load_settings(as_json)
        url = settings.server
    else:
        url, settings = _server, None
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        fail(f"--server wants an http(s) URL, not {url!r}", as_json=as_json)
    settings = settings or load_settings(as_json)
    if settings.api_key is None:
        fail(
            f"no API key for {url}",
            as_json=as_json,
            hint="export VITCO_API_KEY=vk_... (vitco keys create --tenant T --role manager)",
        )
    from vitco.client import VitcoClient

    return VitcoClient.connect(url, settings.api_key.get_secret_value())


@contextmanager
def remote_errors(as_json: bool) -> Iterator[None]:
    """The client's errors as the CLI's: one message (the API's code) and exit code 1."""
    from vitco.client import ApiError, ClientError

    try:
        yield
    except ApiError as exc:
        fail(exc.message, as_json=as_json, code=exc.code, hint=_hint(exc))
    except ClientError as exc:
        fail(str(exc), as_json=as_json, code=type(exc).__name__)


def _hint(exc: Any) -> str | None:
    if exc.status == 401:
        return "the server refused the key: check VITCO_API_KEY"
    details = exc.details if isinstance(exc.details, dict) else {}
    return str(details["fix"]) if details.get("fix") else None


def _events(api: VitcoClient, run_id: str, since: int = 0) -> list[Event]:
    return [
        Event(e.seq, e.ts, e.kind, e.task, e.message) for e in api.all_events(run_id, since=since)
    ]


MAX_CANDIDATES = 5
"""Ids an ambiguous prefix's error lists."""


def resolve(
    api: VitcoClient, ident: str, as_json: bool, kinds: tuple[str, ...] = ()
) -> tuple[str, str]:
    """The kind ("run" or "project") and whole id of what ``ident`` names on the server: an id
    or a prefix only one of the tenant's runs and projects starts with (``kinds``: only
    these). A prefix that names none or several is an error naming the candidates."""
    wanted = kinds or (("project",) if ident.startswith("p-") else ("run",))
    if not kinds and not ident.startswith(("p-", "r-")):
        wanted = ("run", "project")
    found: list[tuple[str, str]] = []
    for kind in wanted:
        full = ident if ident.startswith(kind[0] + "-") else f"{kind[0]}-{ident}"
        if len(full) < 3:
            continue
        listing = api.runs if kind == "run" else partial(api.projects, state="all")
        ids = [row.id for row in listing(id_prefix=full, limit=MAX_CANDIDATES + 1).items]
        if full in ids:
            return kind, full  # a whole id wins over the longer ids it starts
        found += [(kind, found_id) for found_id in ids]
    what = " or ".join(wanted)
    if not found:
        fail(f"no {what} {ident!r} on the server", as_json=as_json, code="not_found")
    if len(found) > 1:
        names = ", ".join(full for _, full in found[:MAX_CANDIDATES])
        fail(
            f"{ident!r} names more than one {what}: {names}",
            as_json=as_json,
            code="ambiguous_id",
            hint="give more characters of the id",
        )
    return found[0]


def _run_id(api: VitcoClient, ident: str, as_json: bool) -> str:
    """A run by its id or prefix, or the latest run of a project named by its id or prefix."""
    kind, full = resolve(api, ident, as_json)
    if kind == "run":
        return full
    runs = api.runs(project_id=full, limit=1).items
    if not runs:
        fail(f"project {full} has no runs", as_json=as_json)
    return runs[0].id


def report(api: VitcoClient, run_id: str) -> dict[str, Any]:
    data: dict[str, Any] = api.report(run_id).model_dump(mode="json")
    return data


# the commands ----------------------------------------------------------------------------------


def status(api: VitcoClient, ident: str | None, as_json: bool) -> None:
    from vitco.cli.status import print_projects, print_run

    with remote_errors(as_json):
        if ident is None:
            rows = []
            for project in _all_projects(api):
                runs = api.runs(project_id=project.id, limit=1).items
                last = runs[0] if runs else None
                rows.append(
                    {
                        "project_id": project.id,
                        "name": project.name,
                        "run_id": last.id if last else None,
                        "status": last.status if last else "no runs",
                        "created_at": project.created_at.isoformat(),
                        "repo": f"/v1/runs/{last.id}/repo" if last else None,
                    }
                )
            url = str(api.transport.http.base_url)
            print_projects(rows, f"projects on {url}", as_json)
            return
        run_id = _run_id(api, ident, as_json)
        data, events = report(api, run_id), _events(api, run_id)
    print_run(data, events, as_json)


def _all_projects(api: VitcoClient) -> Iterator[Any]:
    cursor = None
    while True:
        page = api.projects(limit=200, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def show(api: VitcoClient, ident: str, as_json: bool) -> None:
    from vitco.cli.show import SHOWN, gather, print_show

    with remote_errors(as_json):
        run_id = _run_id(api, ident, as_json)
        data = report(api, run_id)
        parts = gather(api.artifacts(run_id, kind=list(SHOWN)))
    print_show(data, parts, as_json)


def costs(api: VitcoClient, ident: str | None, group: str, as_json: bool) -> None:
    from vitco.cli.costs import print_costs

    project_id = run_id = None
    with remote_errors(as_json):
        kind, full = resolve(api, ident, as_json) if ident else ("", "")
        if kind == "run":
            run = api.run(full)
            project_id, run_id = run.project_id, run.id
        elif kind == "project":
            project_id = full
        answer = api.costs(by=group, project_id=project_id, run_id=run_id)  # type: ignore[arg-type]
    rows = [row.model_dump() for row in answer.rows]
    title = f"model costs of {run_id or project_id}" if project_id else "model costs on the server"
    print_costs(rows, group, project_id, run_id, title, as_json)


def run(
    api: VitcoClient,
    brief: Path,
    *,
    model: str | None,
    budget: float | None,
    workflow: str,
    as_json: bool,
) -> None:
    """Create a project from the brief on the server, start its run and follow it."""
    try:
        text = brief.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read the brief {brief}: {exc.strerror}", as_json=as_json)
    with remote_errors(as_json):
        project = api.create_project(text, source=_source(brief.name))
        started = api.start_run(project.id, workflow=workflow, model=model, budget_usd=budget)
    follow(api, started.id, as_json)


def _source(name: str) -> str:
    import re

    return re.sub(r"[^\w .-]+", "-", name)[:200] or "cli"


def answer(
    api: VitcoClient, run_id: str, approved: bool, reason: str | None, as_json: bool
) -> None:
    with remote_errors(as_json):
        run_id = resolve(api, run_id, as_json, kinds=("run",))[1]
        if approved:
            api.approve(run_id, reason)
        else:
            api.reject(run_id, reason)
    follow(api, run_id, as_json)


def resume(api: VitcoClient, run_id: str, as_json: bool) -> None:
    with remote_errors(as_json):
        run_id = resolve(api, run_id, as_json, kinds=("run",))[1]
        api.resume(run_id)
    follow(api, run_id, as_json)


def follow(api: VitcoClient, run_id: str, as_json: bool, poll_s: float = POLL_S) -> None:
    """Print the run's events while the server executes it, then its report (as ``vitco run``
    does: exit 1 unless delivered, 130 when interrupted)."""
    from vitco.cli.status import event_line

    out = err_console if as_json else console
    show_progress = verbosity() >= 0 and (not as_json or err_console.is_terminal)
    seen = 0
    with remote_errors(as_json):
        while True:
            status = api.run(run_id).status
            for e in _events(api, run_id, since=seen):
                seen = e.id
                if show_progress:
                    out.print(event_line(e), highlight=False, markup=False)
            if status not in ("queued", "running", "created"):
                break
            time.sleep(poll_s)
        data = report(api, run_id)
    if as_json:
        emit_json(with_next(data))
    else:
        print_report(console, data)
    if data["status"] == "interrupted":
        raise typer.Exit(130)
    if data["status"] != "delivered":
        raise typer.Exit(1)
