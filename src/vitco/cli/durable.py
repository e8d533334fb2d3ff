"""`vitco resume | history | fork | approve | gc`: runs that survive crashes and can be rewound."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from vitco.cli import remote
from vitco.cli.hints import next_steps
from vitco.cli.ids import abbreviate, pick_checkpoint
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
from vitco.cli.progress import RunProgress, ledger_spent
from vitco.cli.run import JsonOpt, ServeOpt, finish

if TYPE_CHECKING:
    from vitco.config import Settings
    from vitco.workflow.runner import Outcome

RunArg = Annotated[
    str, typer.Argument(metavar="RUN", help="A run id (r-...) or a unique prefix of one.")
]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (kept with the run).")]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Model id to continue with (default: the run's own)."),
]


def full_run_id(settings: Settings, ident: str, as_json: bool) -> str:
    """The run id ``ident`` names (whole or a unique prefix); an error names the candidates."""
    with known_errors(as_json):
        return store_of(settings).resolve_id("run", ident)


def _drive(settings: Settings, as_json: bool, serve: bool, call: Any) -> None:
    enabled = not as_json or err_console.is_terminal
    out = err_console if as_json else console
    with (
        known_errors(as_json),
        RunProgress(out, enabled=enabled, spent=ledger_spent(settings)) as p,
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

        api = remote.connect(as_json)
        if api is not None:
            if model or serve:
                fail("--model and --serve work only without --server", as_json=as_json)
            with api:
                return remote.resume(api, run_id, as_json)
        settings = model_settings(as_json, config)
        full = full_run_id(settings, run_id, as_json)
        _drive(
            settings,
            as_json,
            serve,
            lambda p: resume_run(settings, full, model_id=model, on_event=p, keep_running=serve),
        )

    @app.command()
    def history(run_id: RunArg, as_json: JsonOpt = False) -> None:
        """List a run's checkpoints: step, node, time and the cost so far.

        Each checkpoint id is shown as long as it must be to be unique among the run's;
        ``vitco fork RUN --at`` takes it, or the step number.
        """
        from vitco.workflow.timetravel import checkpoints

        settings = load_settings(as_json)
        run_id = full_run_id(settings, run_id, as_json)
        with known_errors(as_json):
            rows = checkpoints(settings, store_of(settings), run_id)
        if as_json:
            emit_json({"run_id": run_id, "checkpoints": rows})
            return
        length = abbreviate([r["checkpoint_id"] for r in rows])
        table = Table(title=f"checkpoints of {run_id}", title_justify="left")
        for column in ("checkpoint", "step", "after", "next", "time", "done", "cost $"):
            wrap = column in ("after", "next", "done")
            table.add_column(column, no_wrap=not wrap, overflow="fold")
        for r in rows:
            table.add_row(
                r["checkpoint_id"][:length],
                str(r["step"]),
                r["after"] or "-",
                ", ".join(r["next"]) or "-",
                r["time"][11:19],
                ", ".join(r["done"]) or "-",
                f"{r['cost_usd']:.4f}",
            )
        console.print(table)
        console.print(
            f"fork from one with: vitco fork {run_id} --at STEP (or --at CHECKPOINT)",
            highlight=False,
            style="dim",
        )

    @app.command()
    def fork(
        run_id: RunArg,
        at: Annotated[
            str,
            typer.Option(
                "--at",
                metavar="STEP|CHECKPOINT",
                help="A step number or a unique prefix of a checkpoint id (vitco history RUN).",
            ),
        ],
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
        from vitco.workflow.timetravel import (
            checkpoints,
            edit_in_editor,
            fork_run,
            parse_assignments,
        )

        settings = model_settings(as_json, config)
        run_id = full_run_id(settings, run_id, as_json)
        with known_errors(as_json):
            store = store_of(settings)
            at = pick_checkpoint(run_id, checkpoints(settings, store, run_id), at)
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
            settings,
            as_json,
            serve,
            lambda p: resume_run(
                settings, forked.run_id, model_id=model, on_event=p, keep_running=serve
            ),
        )

    def answer_gate(
        run_id: str, approved: bool, reason: str | None, as_json: bool, serve: bool, config: Any
    ) -> None:
        from vitco.bootstrap import resume_run
        from vitco.workflow.answers import record_answer

        api = remote.connect(as_json)
        if api is not None:
            if serve:
                fail("--serve works only without --server", as_json=as_json)
            with api:
                return remote.answer(api, run_id, approved, reason, as_json)
        settings = model_settings(as_json, config)
        run_id = full_run_id(settings, run_id, as_json)
        with known_errors(as_json):
            run = store_of(settings).get_run(run_id)
        if run.status != "awaiting_approval":
            steps = next_steps({"run_id": run.id, "status": run.status, "reason": run.reason})
            fail(
                f"run {run_id} is {run.status}, not awaiting approval",
                as_json=as_json,
                hint="; ".join(f"{s['command']}: {s['why']}" for s in steps) or None,
            )
        answer = {"approved": approved, "reason": reason}
        record_answer(store_of(settings), run_id, answer)  # kept until the gate has taken it
        _drive(
            settings,
            as_json,
            serve,
            lambda p: resume_run(settings, run_id, on_event=p, keep_running=serve, resume=answer),
        )

    @app.command()
    def approve(
        run_id: RunArg,
        reject: Annotated[
            bool, typer.Option("--reject", help="Reject instead of approving (vitco reject).")
        ] = False,
        reason: ReasonOpt = None,
        as_json: JsonOpt = False,
        serve: ServeOpt = False,
        config: ConfigOpt = None,
    ) -> None:
        """Answer a run waiting at an approval gate: it goes on (or stops, if rejected)."""
        answer_gate(run_id, not reject, reason, as_json, serve, config)

    @app.command()
    def reject(
        run_id: RunArg,
        reason: ReasonOpt = None,
        as_json: JsonOpt = False,
        config: ConfigOpt = None,
    ) -> None:
        """Reject what a run waiting at an approval gate asks for: the run stops."""
        answer_gate(run_id, False, reason, as_json, False, config)

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
        console.print(gc_summary(result), highlight=False)


def gc_summary(result: dict[str, Any]) -> str:
    """What ``vitco gc`` freed, or with ``--dry-run`` would free, in one line."""
    runs = len(result["runs"])
    if not runs:
        return "nothing to prune: no run was delivered long enough ago (see --days)"
    verb = "would free" if result["dry_run"] else "freed"
    text = (
        f"{verb} {result['rows']:,} checkpoint rows ({result['data_bytes']:,} bytes of state) "
        f"of {runs} delivered run(s), keeping each one's final checkpoint"
    )
    if not result["dry_run"] and "bytes_before" in result:
        text += f"; file {result['bytes_before']:,} -> {result['bytes_after']:,} bytes"
    return text
