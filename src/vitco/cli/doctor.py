"""`vitco doctor`: can this machine run vitco's sandbox, and if not, why and how to fix it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from vitco.sandbox.diagnose import Finding

_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def _table(checks: list[Finding]) -> Table:
    table = Table(title="vitco doctor: sandbox", show_lines=False)
    for column in ("check", "status", "detail", "fix"):
        table.add_column(column, overflow="fold")
    for c in checks:
        table.add_row(c.name, f"[{_STYLE[c.status]}]{c.status}[/]", c.detail, c.fix)
    return table


def register(app: typer.Typer) -> None:
    """Add the doctor command to the app."""

    @app.command()
    def doctor(
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """Finding that this machine can run vitco: the sandbox, and what to fix if it cannot.

        Exits 1 when a check fails.
        """
        from vitco.cli.output import load_settings
        from vitco.sandbox.diagnose import diagnose

        settings = load_settings(as_json)
        checks = diagnose(settings)
        ok = all(c.status != "fail" for c in checks)
        if as_json:
            payload = {
                "ok": ok,
                "sandbox": settings.sandbox,
                "checks": [c.to_dict() for c in checks],
            }
            typer.echo(json.dumps(payload, indent=2))
        else:
            console = Console()
            console.print(_table(checks))
            if ok:
                console.print("[green]The sandbox works on this machine.[/]")
            else:
                console.print("[bold red]The sandbox cannot run here; see the fixes above.[/]")
        if not ok:
            raise typer.Exit(1)
