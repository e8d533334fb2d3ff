"""`vitco resume | history | fork | approve | gc`: runs that survive crashes and can be rewound."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from vitco.cli.models import ConfigOpt, model_settings
from vitco.cli.output import (
    console,
    emit_json,
    err_console,
    fail,
    known_errors,
    load_settings,
    store_of,
)
from vitco.cli.progress import RunProgress
from vitco.cli.run import JsonOpt, ServeOpt, finish

if TYPE_CHECKING:
    from vitco.workflow.runner import Outcome

RunArg = Annotated[str, typer.Argument(metavar="RUN", help="The run id (r-...).")]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Model id to continue with (default: the run's own)."),
]


def _drive(as_json: bool, serve: bool, call: Any) -> None:
    enabled = not as_json or err_console.is_terminal
    with (
        known_errors(as_json),
        RunProgress(err_console if as_json else console, enabled=enabled) as p,
    ):
        outcome: Outcome = call(p)
    finish(outcome, as_json=as_json, serve=serve)


def register(app: typer.Typer) -> None:
    @app.command()
    def resume(
        run_id: RunArg,
        model: ModelOpt = None,
        as_json: JsonOpt = False,
        serve: ServeOpt = False,
        config: ConfigOpt = None,
    ) -> None:
        """Continue a run from its last checkpoint (after a crash, a fix, or a raised budget).

        Model calls already answered and side effects already done (commits, deploys, mail)
        are not repeated.
        """
        from vitco.bootstrap import resume_run

        settings = model_settings(as_json, config)
        _drive(
            as_json,
            serve,
            lambda p: resume_run(settings, run_id, model_id=model, on_event=p, keep_running=serve),
        )

    @app.command()
    def history(run_id: RunArg, as_json: JsonOpt = False) -> None:
        """List a run's checkpoints: step, node, time and the cost so far."""
        from vitco.workflow.timetravel import checkpoints

        settings = load_settings(as_json)
        with known_errors(as_json):
            rows = checkpoints(settings, store_of(settings), run_id)
        if as_json:
            emit_json({"run_id": run_id, "checkpoints": rows})
            return
        table = Table(title=f"checkpoints of {run_id}", title_justify="left")
        for column in ("checkpoint", "step", "after", "next", "time", "done", "cost $"):
            table.add_column(column)
        for r in rows:
            table.add_row(
                r["checkpoint_id"],
                str(r["step"]),
                r["after"] or "-",
                ", ".join(r["next"]) or "-",
                r["time"][11:19],
                ", ".join(r["done"]) or "-",
                f"{r['cost_usd']:.4f}",
            )
        console.print(table)

    @app.command()
    def fork(
        run_id: RunArg,
        at: Annotated[str, typer.Option("--at", help="Checkpoint id (see vitco history RUN).")],
        set_: Annotated[
            list[str] | None,
            typer.Option(
                "--set", help="Edit state: plan.tasks.0.title='New title' (JSON or text)."
            ),
        ] = None,
        drop_task: Annotated[
            list[str] | None, typer.Option("--drop-task", help="Remove a task from the plan.")
        ] = None,
        edit: Annotated[
            bool, typer.Option("--edit", help="Edit the spec and plan in $EDITOR first.")
        ] = False,
        model: ModelOpt = None,
        as_json: JsonOpt = False,
        serve: ServeOpt = False,
        config: ConfigOpt = None,
    ) -> None:
        """Start a new run from a checkpoint of RUN, with changed state; RUN stays untouched."""
        from vitco.bootstrap import resume_run
        from vitco.workflow.timetravel import edit_in_editor, fork_run, parse_assignments

        settings = model_settings(as_json, config)
        with known_errors(as_json):
            store = store_of(settings)
            edits = parse_assignments(set_ or [], run_id)
            if edit:
                edits |= edit_in_editor(settings, store, run_id, at)
            forked = fork_run(
                settings, store, run_id, at, edits=edits, drop_tasks=drop_task or [], model_id=model
            )
        if not as_json:
            console.print(
                f"forked {run_id} at {at} as [bold]{forked.run_id}[/] on branch {forked.branch}",
                highlight=False,
            )
        _drive(
            as_json,
            serve,
            lambda p: resume_run(
                settings, forked.run_id, model_id=model, on_event=p, keep_running=serve
            ),
        )

    @app.command()
    def approve(
        run_id: RunArg,
        reject: Annotated[
            bool, typer.Option("--reject", help="Reject instead of approving.")
        ] = False,
        reason: Annotated[
            str | None, typer.Option("--reason", help="Why (kept with the run).")
        ] = None,
        as_json: JsonOpt = False,
        serve: ServeOpt = False,
        config: ConfigOpt = None,
    ) -> None:
        """Answer a run waiting at an approval gate; it goes on (or stops, if rejected)."""
        from vitco.bootstrap import resume_run

        settings = model_settings(as_json, config)
        with known_errors(as_json):
            run = store_of(settings).get_run(run_id)
            if run.status != "awaiting_approval":
                fail(f"run {run_id} is {run.status}, not awaiting approval", as_json=as_json)
        answer = {"approved": not reject, "reason": reason}
        _drive(
            as_json,
            serve,
            lambda p: resume_run(settings, run_id, on_event=p, keep_running=serve, resume=answer),
        )

    @app.command()
    def gc(
        days: Annotated[
            float | None,
            typer.Option(
                "--days",
                min=0,
                help="Keep delivered runs' checkpoints this many days "
                "(default: VITCO_CHECKPOINT_DAYS).",
            ),
        ] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Prune the checkpoints of runs delivered long enough ago to their final state."""
        from vitco.workflow.retention import collect

        settings = load_settings(as_json)
        with known_errors(as_json):
            result = collect(settings, store_of(settings), days=days, dry_run=dry_run)
        if as_json:
            emit_json(result)
            return
        verb = "would prune" if dry_run else "pruned"
        console.print(
            f"{verb} {len(result['runs'])} run(s): {result['rows_deleted']} rows; checkpoints "
            f"{result['bytes_before']:,} -> {result['bytes_after']:,} bytes",
            highlight=False,
        )
