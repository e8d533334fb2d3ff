"""`vitco costs [PROJECT] [--by role|tier|model|day|project]`: model spend, from the ledger.

Every model call is a row of the ``model_calls`` table (tokens, USD, latency, tier, cache hit,
retries); this sums them. Without a project it covers every project, split by project unless
``--by`` says otherwise.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from vitco.cli.output import console, emit_json, known_errors, load_settings, store_of

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


class CostGroup(StrEnum):
    project = "project"
    role = "role"
    tier = "tier"
    model = "model"
    day = "day"


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The sum of breakdown rows."""
    names = ("calls", "input_tokens", "output_tokens", "usd", "cache_hits", "retries", "model_s")
    total: dict[str, Any] = {name: sum(r[name] for r in rows) for name in names}
    total["usd"] = round(total["usd"], 6)
    total["model_s"] = round(total["model_s"], 3)
    return total


def register(app: typer.Typer) -> None:
    @app.command()
    def costs(
        project: Annotated[
            str | None, typer.Argument(metavar="[PROJECT]", help="A project id (p-...).")
        ] = None,
        by: Annotated[
            CostGroup | None,
            typer.Option("--by", help="Split by this (default: role for a project, else project)."),
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Model spend from the cost ledger: calls, tokens, USD, cache hits, retries."""
        group = (by or (CostGroup.role if project else CostGroup.project)).value
        settings = load_settings(as_json)
        with known_errors(as_json):
            store = store_of(settings)
            if project:
                store.get_project(project)  # NotFound names an unknown project
            rows = store.cost_breakdown(by=group, project_id=project)
        for row in rows:
            row["usd"] = round(row["usd"], 6)
            row["model_s"] = round(row["model_s"], 3)
        total = totals(rows)
        if as_json:
            emit_json({"project_id": project, "by": group, "rows": rows, "total": total})
            return
        title = f"model costs of {project}" if project else f"model costs in {settings.home}"
        table = Table(title=f"{title}, by {group}", title_justify="left", show_footer=True)
        footers = [
            "total",
            str(total["calls"]),
            f"{total['input_tokens']:,}",
            f"{total['output_tokens']:,}",
            str(total["cache_hits"]),
            str(total["retries"]),
            f"{total['usd']:.4f}",
        ]
        columns = (group, "calls", "tokens in", "tokens out", "cache hits", "retries", "USD")
        for column, footer in zip(columns, footers, strict=True):
            table.add_column(column, footer=footer, justify="left" if column == group else "right")
        for r in rows:
            table.add_row(
                r["key"],
                str(r["calls"]),
                f"{r['input_tokens']:,}",
                f"{r['output_tokens']:,}",
                str(r["cache_hits"]),
                str(r["retries"]),
                f"{r['usd']:.4f}",
            )
        console.print(table)
