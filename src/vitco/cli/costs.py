"""`vitco costs [PROJECT|RUN] [--by project|run|role|tier|model|day]`: model spend, from the
ledger.

Every model call is a row of the ``model_calls`` table (tokens, USD, latency, tier, cache hit,
retries); this sums them. Without an id it covers every project, split by project unless
``--by`` says otherwise; a project's or a run's calls are split by role.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from vitco.cli import remote
from vitco.cli.output import (
    console,
    emit_json,
    known_errors,
    load_settings,
    project_and_run,
    store_of,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


class CostGroup(StrEnum):
    project = "project"
    run = "run"
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
        ident: Annotated[
            str | None,
            typer.Argument(
                metavar="[PROJECT|RUN]", help="A project id (p-...) or a run id (r-...)."
            ),
        ] = None,
        by: Annotated[
            CostGroup | None,
            typer.Option(
                "--by", help="Split by this (default: role for a project or a run, else project)."
            ),
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Model spend from the cost ledger: calls, tokens, USD, cache hits, retries."""
        group = (by or (CostGroup.role if ident else CostGroup.project)).value
        api = remote.connect(as_json)
        if api is not None:
            with api:
                return remote.costs(api, ident, group, as_json)
        settings = load_settings(as_json)
        project = run_id = None
        with known_errors(as_json):
            store = store_of(settings)
            if ident:  # NotFound names an unknown one
                project, run = project_and_run(store, ident)
                run_id = run.id if run is not None else None
            rows = store.cost_breakdown(by=group, project_id=project, run_id=run_id)
        title = (
            f"model costs of {run_id or project}" if project else f"model costs in {settings.home}"
        )
        print_costs(rows, group, project, run_id, title, as_json)


def print_costs(
    rows: list[dict[str, Any]],
    group: str,
    project: str | None,
    run_id: str | None,
    title: str,
    as_json: bool,
) -> None:
    """The breakdown rows as a table (or JSON) with their total (local or remote)."""
    for row in rows:
        row["usd"] = round(row["usd"], 6)
        row["model_s"] = round(row["model_s"], 3)
    total = totals(rows)
    if as_json:
        data = {"project_id": project, "run_id": run_id, "by": group, "rows": rows}
        emit_json(data | {"total": total})
        return
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
        # an id or model name is never cut: folded only when even a terminal is too narrow
        table.add_column(
            column,
            footer=footer,
            justify="left" if column == group else "right",
            no_wrap=True,
            overflow="fold",
        )
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
