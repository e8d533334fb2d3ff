"""`vitco status [ID]` and `vitco report ID`: what runs are doing and what they delivered."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Protocol

import typer
from rich.table import Table

from vitco.cli import remote
from vitco.cli.ids import find_run
from vitco.cli.output import console, emit_json, known_errors, load_settings, store_of
from vitco.cli.summary import print_report, with_next

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
RECENT_EVENTS = 30


class Happened(Protocol):
    """An event as status and logs print it: a stored ``Event``, or one the API answered."""

    @property
    def id(self) -> int: ...
    @property
    def ts(self) -> datetime: ...
    @property
    def kind(self) -> str: ...
    @property
    def task(self) -> str | None: ...
    @property
    def message(self) -> str: ...


def event_row(e: Happened) -> dict[str, Any]:
    return {
        "id": e.id,
        "ts": e.ts.isoformat(),
        "kind": e.kind,
        "task": e.task,
        "message": e.message,
    }


def event_line(e: Happened) -> str:
    where = f"[{e.task}] " if e.task else ""
    return f"{e.ts:%H:%M:%S} {e.kind:<8} {where}{e.message}"


def register(app: typer.Typer) -> None:
    @app.command()
    def status(
        ident: Annotated[
            str | None, typer.Argument(metavar="[PROJECT|RUN]", help="A project or run id.")
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """List projects and their latest run, or show one run's tasks and latest events."""
        api = remote.connect(as_json)
        if api is not None:
            with api:
                return remote.status(api, ident, as_json)
        settings = load_settings(as_json)
        with known_errors(as_json):
            store = store_of(settings)
            if ident is None:
                rows: list[dict[str, Any]] = []
                for project in store.projects():
                    runs = store.runs(project.id)
                    last = runs[0] if runs else None
                    rows.append(
                        {
                            "project_id": project.id,
                            "name": project.name,
                            "run_id": last.id if last else None,
                            "status": last.status if last else "no runs",
                            "created_at": project.created_at.isoformat(),
                            "repo": project.repo_path,
                        }
                    )
                print_projects(rows, f"projects in {settings.home}", as_json)
                return
            from vitco.workflow.report import run_report

            run = find_run(store, ident)
            report = run_report(store, run.id)
            events = store.events(run.id)
        print_run(report, events, as_json)

    @app.command()
    def report(
        ident: Annotated[str, typer.Argument(metavar="PROJECT|RUN", help="A project or run id.")],
        as_json: JsonOpt = False,
    ) -> None:
        """The delivery report of a run (or a project's latest run)."""
        from vitco.workflow.report import run_report

        settings = load_settings(as_json)
        with known_errors(as_json):
            store = store_of(settings)
            data = run_report(store, find_run(store, ident).id)
        if as_json:
            emit_json(with_next(data))
        else:
            print_report(console, data)


def print_projects(rows: list[dict[str, Any]], title: str, as_json: bool) -> None:
    """The projects and their latest run (``vitco status``, local or remote)."""
    if as_json:
        emit_json({"projects": rows})
        return
    table = Table(title=title, title_justify="left")
    for column in ("project", "name", "last run", "status", "created"):
        table.add_column(column, no_wrap=column != "name", overflow="fold")
    for r in rows:
        table.add_row(
            r["project_id"],
            r["name"],
            r["run_id"] or "-",
            r["status"],
            r["created_at"][:19].replace("T", " "),
        )
    console.print(table)


def print_run(report: dict[str, Any], events: Sequence[Happened], as_json: bool) -> None:
    """A run's report and its latest events (``vitco status RUN``, local or remote)."""
    if as_json:
        emit_json(with_next(report) | {"events": [event_row(e) for e in events]})
        return
    print_report(console, report)
    shown = events[-RECENT_EVENTS:]
    title = "events" if len(shown) == len(events) else f"last {len(shown)} of {len(events)} events"
    console.print(f"\n[bold]{title}[/]", highlight=False)
    for e in shown:
        console.print(event_line(e), highlight=False, markup=False)
    if len(shown) < len(events):
        console.print(
            f"all {len(events)} events: vitco logs {report['run_id']}", highlight=False, style="dim"
        )
