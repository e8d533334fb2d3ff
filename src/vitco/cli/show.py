"""`vitco show RUN`: what a run is about and where it stands, readably: the spec, the plan, each
task's last test output, the report and what to do next (``--json``: the same data)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import typer
from rich.markup import escape

from vitco.cli import remote
from vitco.cli.ids import find_run
from vitco.cli.output import console, emit_json, known_errors, load_settings, store_of
from vitco.cli.summary import print_report, with_next

if TYPE_CHECKING:
    from rich.console import Console

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
MAX_TEST_LINES = 40  # of a task's failure output, in the human view (--json has it all)


class Output(Protocol):
    """A typed output of a step: a stored ``Artifact``, or one the API answered."""

    @property
    def kind(self) -> str: ...
    @property
    def task(self) -> str | None: ...
    @property
    def attempt(self) -> int | None: ...
    @property
    def content(self) -> dict[str, Any]: ...


SHOWN = ("spec", "plan", "test_report")
"""The kinds of output ``show`` reads."""


def gather(outputs: Iterable[Output]) -> dict[str, Any]:
    """The run's spec and plan (the latest of each) and the last test report of each task
    (``"main"`` for the whole suite), from its outputs, oldest first."""
    latest: dict[str, dict[str, Any]] = {}
    tests: dict[str, dict[str, Any]] = {}
    for output in outputs:
        if output.kind == "test_report":  # the last one of a task wins
            tests[output.task or "main"] = output.content | {"attempt": output.attempt}
        elif output.kind in SHOWN:
            latest[output.kind] = output.content
    return {"spec": latest.get("spec"), "plan": latest.get("plan"), "tests": tests}


def print_spec(out: Console, spec: dict[str, Any] | None) -> None:
    out.print("\n[bold underline]spec[/]")
    if not spec:
        out.print("no spec yet: the analyst has not answered", highlight=False)
        return
    out.print(f"[bold]{escape(spec.get('title', ''))}[/]", highlight=False)
    out.print(escape(spec.get("summary", "")), highlight=False)
    for story in spec.get("user_stories", []):
        out.print(f"\n[bold]{escape(story['id'])}[/] {escape(story['story'])}", highlight=False)
        for criterion in story.get("acceptance_criteria", []):
            out.print(f"  - {escape(criterion)}", highlight=False)
    if spec.get("out_of_scope"):
        out.print("\n[bold]out of scope[/]", highlight=False)
        for item in spec["out_of_scope"]:
            out.print(f"  - {escape(item)}", highlight=False)


def print_plan(out: Console, plan: dict[str, Any] | None, tasks: list[dict[str, Any]]) -> None:
    out.print("\n[bold underline]plan[/]")
    if not plan:
        out.print("no plan yet: the manager has not answered", highlight=False)
        return
    out.print(f"toolchain: {plan.get('toolchain', '-')}", highlight=False)
    state = {t["id"]: t for t in tasks}
    for task in plan.get("tasks", []):
        known = state.get(task["id"], {})
        facts = [f"complexity {task.get('complexity', '?')}"]
        if task.get("depends_on"):
            facts.append("after " + ", ".join(task["depends_on"]))
        if known:
            attempts = known.get("attempts") or 0
            facts.append(f"{known.get('status')}, {attempts} attempt{'s' * (attempts != 1)}")
        out.print(
            f"\n[bold]{task['id']}  {escape(task['title'])}[/]  ({'; '.join(facts)})",
            highlight=False,
        )
        out.print(f"    {escape(task.get('description', ''))}", highlight=False)


def print_tests(out: Console, tests: dict[str, dict[str, Any]]) -> None:
    out.print("\n[bold underline]tests[/] (the last run of each task)")
    if not tests:
        out.print("no tests have run yet", highlight=False)
        return
    for name, report in tests.items():
        counts = (
            f"{report.get('passed', 0)} passed, {report.get('failed', 0)} failed, "
            f"{report.get('errors', 0)} errors"
        )
        attempt = f", attempt {report['attempt']}" if report.get("attempt") else ""
        style = "green" if not report.get("failed") and not report.get("errors") else "red"
        out.print(f"[bold]{name}[/]{attempt}: [{style}]{counts}[/]", highlight=False)
        if report.get("limit_hit"):
            out.print(f"  stopped by the {report['limit_hit']} limit", highlight=False)
        texts = [f"{f['test']}\n{f['output']}" for f in report.get("failures", [])]
        if not texts and style == "red" and report.get("output"):
            texts = [report["output"]]
        for text in texts:
            lines = text.strip().splitlines()
            cut = len(lines) - MAX_TEST_LINES
            for line in lines[:MAX_TEST_LINES]:
                out.print(f"  {line}", highlight=False, markup=False)
            if cut > 0:
                out.print(f"  ... {cut} more lines (vitco show --json)", highlight=False)


def register(app: typer.Typer) -> None:
    @app.command()
    def show(
        ident: Annotated[
            str,
            typer.Argument(
                metavar="RUN|PROJECT", help="A run or project id, or a unique prefix of one."
            ),
        ],
        as_json: JsonOpt = False,
    ) -> None:
        """A run's spec, plan and each task's last test output, with its report and what to do
        next (a project: its latest run)."""
        from vitco.workflow.report import run_report

        api = remote.connect(as_json)
        if api is not None:
            with api:
                return remote.show(api, ident, as_json)
        settings = load_settings(as_json)
        with known_errors(as_json):
            store = store_of(settings)
            run = find_run(store, ident)
            report = run_report(store, run.id)
            parts = gather(store.artifacts(run.id))
        print_show(report, parts, as_json)


def print_show(report: dict[str, Any], parts: dict[str, Any], as_json: bool) -> None:
    """What ``vitco show`` prints (local or remote)."""
    if as_json:
        emit_json({"report": with_next(report)} | parts)
        return
    print_spec(console, parts["spec"])
    print_plan(console, parts["plan"], report.get("tasks", []))
    print_tests(console, parts["tests"])
    print_report(console, report)
