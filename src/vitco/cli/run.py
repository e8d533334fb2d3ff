"""`vitco run BRIEF` and `vitco demo`: deliver a project, with live progress."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.panel import Panel

import vitco
from vitco.cli import remote
from vitco.cli.models import ConfigOpt, model_settings
from vitco.cli.output import console, emit_json, err_console, fail, known_errors, verbosity
from vitco.cli.progress import RunProgress, ledger_spent
from vitco.cli.summary import print_report, with_next

if TYPE_CHECKING:
    from vitco.config import Settings
    from vitco.llm.model import Model
    from vitco.workflow.runner import Outcome

# The value of vitco.workflow.graph.DEFAULT_WORKFLOW, which --workflow shows as its default:
# graph.py imports LangGraph, too much for `vitco --help` (tests/cli/test_imports.py checks
# that the two agree).
DEFAULT_WORKFLOW = "deliver-project"

EXAMPLES = Path(vitco.__file__).resolve().parents[2] / "examples"
DEMO_BRIEF = EXAMPLES / "briefs" / "todo-api.md"
DEMO_CASSETTE = EXAMPLES / "cassettes" / "todo-api.jsonl"

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON report on stdout.")]
ServeOpt = Annotated[
    bool, typer.Option("--serve", help="Keep the deployed app running until Ctrl-C.")
]

REPLAY_NOTE = (
    "[bold]This demo replays a recorded model[/] ({cassette}): every agent answer comes from "
    "the cassette, so it runs offline and costs nothing. Everything else is real: git, the "
    "sandboxed tests, the deployment, the mail.\n"
    "To use a live model: export OPENAI_API_KEY (or ANTHROPIC_API_KEY, or OLLAMA_HOST) and run "
    "[cyan]vitco run examples/briefs/todo-api.md[/], or pass [cyan]--model openai:gpt-4o-mini[/]."
)


STOPS_WITH_RUN = (
    "The app at {url} stopped with this command: --serve keeps it up until Ctrl-C, and "
    "under vitco serve delivered apps stay up, supervised, at stable URLs."
)


def _serve(outcome: Outcome, as_json: bool) -> None:
    url = outcome.report.get("url")
    if not outcome.processes or not url:
        return
    out = err_console if as_json else console
    out.print(
        f"Serving at [bold]{url}[/] — press Ctrl-C to stop; the app stops with vitco "
        "(vitco serve keeps delivered apps up, supervised, at stable URLs).",
        highlight=False,
    )
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        out.print("stopping.")
    finally:
        outcome.stop()


def deliver(
    brief: Path,
    model_id: str | None,
    *,
    as_json: bool,
    serve: bool,
    note: str | None = None,
    record: Path | None = None,
    budget: float | None = None,
    workflow: str = DEFAULT_WORKFLOW,
    repo: Path | None = None,
    config: Path | None = None,
) -> dict[str, Any]:
    from vitco.bootstrap import start_run

    settings = model_settings(as_json, config)
    if budget is not None:
        settings = settings.model_copy(update={"budget_usd": budget})
    progress_console = err_console if as_json else console
    if verbosity() < 0:  # vitco --quiet
        note = None
    if note and not as_json:
        console.print(Panel(note, title="vitco demo", border_style="cyan", expand=False))
    elif note and err_console.is_terminal:
        err_console.print(Panel(note, title="vitco demo", border_style="cyan", expand=False))
    enabled = not as_json or err_console.is_terminal
    spent = ledger_spent(settings)
    with (
        known_errors(as_json),
        RunProgress(progress_console, enabled=enabled, spent=spent) as progress,
    ):
        model = recording(settings, model_id, record) if record is not None else None
        outcome = start_run(
            settings,
            brief,
            model_id=model_id,
            model=model,
            on_event=progress,
            keep_running=serve,
            workflow=workflow,
            repo=repo,
        )
    return finish(outcome, as_json=as_json, serve=serve)


def recording(settings: Settings, model_id: str | None, path: Path) -> Model:
    """The resolved model, wrapped to append every answered call to the cassette ``path``.

    Every secret the settings know (API keys, credentials) is scrubbed from what is written.
    """
    from vitco.bootstrap import build_redactor
    from vitco.llm.cassette import CassetteRecorder
    from vitco.llm.resolve import resolve_model

    model = resolve_model(model_id or settings.model, settings)
    return CassetteRecorder(model, path.expanduser(), redactor=build_redactor(settings))


def finish(outcome: Outcome, *, as_json: bool, serve: bool) -> dict[str, Any]:
    """Print a run's report (JSON or human), serve if asked; exit 1 unless delivered."""
    report = outcome.report
    if as_json:
        emit_json(with_next(report))
    else:
        print_report(console, report)
    if serve and report["status"] == "delivered":
        _serve(outcome, as_json)
    elif report["status"] == "delivered" and report.get("url"):
        out = err_console if as_json else console
        out.print(STOPS_WITH_RUN.format(url=report.get("url")), highlight=False)
    outcome.stop()
    if report["status"] == "interrupted":
        if as_json:  # stdout is for programs; say it to the person too
            err_console.print(
                f"interrupted: [bold]vitco resume {report['run_id']}[/] continues",
                highlight=False,
            )
        raise typer.Exit(130)
    if report["status"] != "delivered":
        raise typer.Exit(1)
    return report


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        brief: Annotated[Path, typer.Argument(help="The client's brief, a Markdown file.")],
        model: Annotated[
            str | None,
            typer.Option(
                "--model",
                "-m",
                help="Model id, e.g. openai:gpt-4o-mini, anthropic:claude-sonnet-4-5, "
                "ollama:llama3.2, replay:FILE.jsonl. Default: VITCO_MODEL or the providers "
                "found in the environment.",
            ),
        ] = None,
        as_json: JsonOpt = False,
        serve: ServeOpt = False,
        record: Annotated[
            Path | None,
            typer.Option(
                "--record",
                metavar="FILE",
                help="Record every model call to this cassette (replay it with "
                "--model replay:FILE); API keys are never written.",
            ),
        ] = None,
        budget: Annotated[
            float | None,
            typer.Option(
                "--budget",
                min=0,
                metavar="USD",
                help="Cap the project's model spend. The run pauses as budget_exceeded before "
                "a call would cross it; raise it with vitco budget PROJECT --set USD, then "
                "vitco resume RUN. Default: VITCO_BUDGET_USD.",
            ),
        ] = None,
        workflow: Annotated[
            str,
            typer.Option(
                "--workflow",
                "-w",
                help="Workflow template: deliver-project, add-feature, fix-bug, or a YAML file "
                "(vitco workflow list).",
            ),
        ] = DEFAULT_WORKFLOW,
        repo: Annotated[
            Path | None,
            typer.Option(
                "--repo",
                help="Work on a copy of this git repository (for add-feature and fix-bug); "
                "the original is never touched.",
            ),
        ] = None,
        config: ConfigOpt = None,
    ) -> None:
        """Deliver the project a brief describes: spec, plan, code, tests, deploy, mail."""
        api = remote.connect(as_json)
        if api is not None:
            local_only = {"--serve": serve, "--record": record, "--repo": repo}
            for option in (name for name, value in local_only.items() if value):
                fail(f"{option} works only without --server", as_json=as_json)
            with api:
                return remote.run(
                    api, brief, model=model, budget=budget, workflow=workflow, as_json=as_json
                )
        deliver(
            brief,
            model,
            as_json=as_json,
            serve=serve,
            record=record,
            budget=budget,
            workflow=workflow,
            repo=repo,
            config=config,
        )

    @app.command()
    def demo(as_json: JsonOpt = False, serve: ServeOpt = False) -> None:
        """Watch the team deliver a todo API from a brief, offline, with a recorded model."""
        if not DEMO_BRIEF.is_file() or not DEMO_CASSETTE.is_file():
            fail(
                f"the demo files are missing ({DEMO_BRIEF}, {DEMO_CASSETTE}); "
                "run vitco demo from a source checkout (pip install -e .)",
                as_json=as_json,
            )
        note = REPLAY_NOTE.format(cassette=DEMO_CASSETTE.relative_to(EXAMPLES.parent))
        deliver(DEMO_BRIEF, f"replay:{DEMO_CASSETTE}", as_json=as_json, serve=serve, note=note)
        sys.stdout.flush()
