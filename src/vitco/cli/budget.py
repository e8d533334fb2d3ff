"""`vitco budget PROJECT|RUN [--set USD | --clear]`: a project's spending cap, and what is left.

A run id stands for its project (the cap is the project's); what to do next is then said
about that run.

A run whose next model call would cross the cap pauses as ``budget_exceeded`` (never in the
middle of a call). Raise the cap here, then ``vitco resume RUN``: calls already made are
answered from the ledger, not paid for again.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from vitco.cli.output import (
    console,
    emit_json,
    fail,
    known_errors,
    load_settings,
    project_and_run,
    store_of,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def register(app: typer.Typer) -> None:
    @app.command()
    def budget(
        ident: Annotated[
            str,
            typer.Argument(
                metavar="PROJECT|RUN", help="A project id (p-...) or one of its runs (r-...)."
            ),
        ],
        set_usd: Annotated[
            float | None,
            typer.Option("--set", min=0, metavar="USD", help="Set the cap to this many USD."),
        ] = None,
        clear: Annotated[
            bool, typer.Option("--clear", help="Remove the cap (VITCO_BUDGET_USD still applies).")
        ] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Show or set a project's model budget (USD); say how to resume a paused run."""
        if clear and set_usd is not None:
            fail("--set and --clear exclude each other", as_json=as_json)
        settings = load_settings(as_json)
        with known_errors(as_json):
            store = store_of(settings)
            project, run = project_and_run(store, ident)  # NotFound names an unknown one
            if set_usd is not None or clear:
                store.set_budget(project, None if clear else set_usd)
            cap = store.get_project(project).budget_usd
            spent = store.spent_usd(project)
            runs = store.runs(project)
        last = run or (runs[0] if runs else None)
        paused = last is not None and last.status == "budget_exceeded"
        data: dict[str, Any] = {
            "project_id": project,
            "budget_usd": cap,
            "spent_usd": round(spent, 6),
            "remaining_usd": None if cap is None else round(max(0.0, cap - spent), 6),
            "run_id": last.id if last else None,
            "run_status": last.status if last else None,
            "resume": f"vitco resume {last.id}" if paused and last is not None else None,
        }
        if as_json:
            emit_json(data)
            return
        if cap is None:
            console.print(f"{project}: no budget; spent ${spent:.4f}", highlight=False)
        else:
            console.print(
                f"{project}: budget ${cap:.4f}, spent ${spent:.4f}, "
                f"left ${data['remaining_usd']:.4f}",
                highlight=False,
            )
        if data["resume"]:
            console.print(
                f"run {data['run_id']} is paused (budget_exceeded); continue it with "
                f"[cyan]{data['resume']}[/]",
                highlight=False,
            )
