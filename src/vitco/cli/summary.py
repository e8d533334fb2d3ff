"""Human rendering of a delivery report (the same data ``--json`` prints), ending with what to
do next. A line is printed only for what happened: before a deployment there is no delivery
line, before a test run no test line, and an unfinished run's time is the time so far."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from vitco.cli.hints import headline, next_steps

STATUS_STYLE = {
    "delivered": "bold green",
    "needs_attention": "bold yellow",
    "awaiting_approval": "bold cyan",
    "budget_exceeded": "bold yellow",
    "interrupted": "bold yellow",
    "failed": "bold red",
}


def with_next(report: dict[str, Any]) -> dict[str, Any]:
    """The report with its one-sentence ``headline`` and the ``next`` commands (for --json)."""
    return report | {"headline": headline(report), "next": next_steps(report)}


def print_report(console: Console, report: dict[str, Any]) -> None:
    status = report["status"]
    style = STATUS_STYLE.get(status, "bold")
    console.print(f"\n[{style}]{status.upper()}[/]  run {report['run_id']}", highlight=False)
    console.print(headline(report), highlight=False, markup=False)
    reason = str(report.get("reason") or "")
    if "\n" in reason.strip():
        console.print(reason.strip(), highlight=False, markup=False)
    tasks = Table(title="tasks", show_edge=False, title_justify="left")
    tasks.add_column("id", no_wrap=True, overflow="fold")
    tasks.add_column("title", overflow="fold")
    tasks.add_column("status", no_wrap=True)
    tasks.add_column("attempts", no_wrap=True)
    for t in report.get("tasks", []):
        tasks.add_row(t["id"], t.get("title", ""), t["status"], str(t["attempts"]))
    if report.get("tasks"):
        console.print(tasks)
    for name, value in facts(report):
        console.print(f"[bold]{name:>10}[/]  {value}", highlight=False)
    print_next(console, report)


def print_next(console: Console, report: dict[str, Any]) -> None:
    steps = next_steps(report)
    if not steps:
        return
    console.print("[bold]next:[/]", highlight=False)
    width = max(len(s["command"]) for s in steps)
    for s in steps:
        console.print(
            f"  [cyan]{s['command']:<{width}}[/]  {s['why']}", highlight=False, soft_wrap=True
        )


def facts(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary lines that apply to what the run did so far."""
    cost = report.get("cost", {})
    tests = report.get("tests", {})
    lines = [("repository", f"{report.get('repo')} ({report.get('commits', 0)} commits)")]
    if tests.get("passed", 0) or tests.get("failed", 0):
        lines.append(("tests", f"{tests.get('passed', 0)} passed, {tests.get('failed', 0)} failed"))
    if report.get("toolchain"):
        lines.append(("toolchain", str(report["toolchain"])))
    if report.get("delivery"):
        lines.append(("delivery", _delivery(report)))
    if report.get("mail"):
        lines.append(("mail", str(report["mail"])))
    lines.append(
        (
            "cost",
            f"${cost.get('usd', 0):.4f} for {cost.get('calls', 0)} model calls "
            f"({cost.get('input_tokens', 0)} in / {cost.get('output_tokens', 0)} out tokens)",
        )
    )
    if report.get("duration_s") is not None:
        lines.append(("time", f"{report['duration_s']:.1f}s"))
    elif (report.get("timings") or {}).get("total"):
        lines.append(("time", f"{report['timings']['total']:.1f}s so far (not finished)"))
    return lines


def _delivery(report: dict[str, Any]) -> str:
    delivery = report["delivery"]
    checks = delivery.get("checks") or []
    passed = sum(1 for c in checks if c.get("ok"))
    text = f"{delivery.get('summary', '')} ({passed} of {len(checks)} checks ok)"
    artifacts = delivery.get("artifacts") or []
    if artifacts:
        text += f"; {len(artifacts)} files in {str(artifacts[0]).rsplit('/', 2)[0]}"
    return text
