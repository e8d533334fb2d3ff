"""`vitco status [ID]` and `vitco report ID`: what runs are doing and what they delivered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from vitco.cli.output import console, emit_json, fail, known_errors, load_settings, store_of
from vitco.cli.summary import print_report

if TYPE_CHECKING:
    from vitco.store import Store
    from vitco.store.models import Run

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def find_run(store: Store, ident: str) -> Run:
    """A run by its id, or the latest run of a project id."""
    from vitco.store import NotFound

    if ident.startswith("p-"):
        runs = store.runs(ident)
        if not runs:
            store.get_project(ident)  # raises NotFound for an unknown project
            raise NotFound("run of project", ident)
        return runs[0]
    return store.get_run(ident)


def register(app: typer.Typer) -> None:
    @app.command()
    def status(
        ident: Annotated[
            str | None, typer.Argument(metavar="[PROJECT|RUN]", help="A project or run id.")
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """List projects and their latest run, or show one run's tasks and events."""
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
                if as_json:
                    emit_json({"projects": rows})
                    return
                table = Table(title=f"projects in {settings.home}", title_justify="left")
                for column in ("project", "name", "last run", "status", "created"):
                    table.add_column(column)
                for r in rows:
                    table.add_row(
                        r["project_id"],
                        r["name"],
                        r["run_id"] or "-",
                        r["status"],
                        r["created_at"][:19].replace("T", " "),
                    )
                console.print(table)
                return
            from vitco.workflow.report import build_report

            run = find_run(store, ident)
            report = build_report(store, run.id)
            events = store.events(run.id)
        if as_json:
            emit_json(
                report
                | {
                    "events": [
                        {
                            "ts": e.ts.isoformat(),
                            "kind": e.kind,
                            "task": e.task,
                            "message": e.message,
                        }
                        for e in events
                    ]
                }
            )
            return
        print_report(console, report)
        console.print("\n[bold]events[/]")
        for e in events[-30:]:
            where = f"[{e.task}] " if e.task else ""
            console.print(f"{e.ts:%H:%M:%S} {e.kind:<8} {where}{e.message}", highlight=False)

    @app.command()
    def report(
        ident: Annotated[str, typer.Argument(metavar="PROJECT|RUN", help="A project or run id.")],
        as_json: JsonOpt = False,
    ) -> None:
        """The delivery report of a run (or a project's latest run)."""
        from vitco.workflow.report import build_report

        settings = load_settings(as_json)
        with known_errors(as_json):
            store = store_of(settings)
            run = find_run(store, ident)
            data = run.report or build_report(store, run.id)
        if as_json:
            emit_json(data)
        else:
            print_report(console, data)
        if not data:
            fail(f"run {ident} has no report", as_json=as_json)
