"""Human rendering of a delivery report (the same data ``--json`` prints)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

STATUS_STYLE = {"delivered": "bold green", "needs_attention": "bold yellow", "failed": "bold red"}


def print_report(console: Console, report: dict[str, Any]) -> None:
    status = report["status"]
    style = STATUS_STYLE.get(status, "bold")
    console.print(f"\n[{style}]{status.upper()}[/]  run {report['run_id']}", highlight=False)
    if report.get("reason"):
        console.print(f"reason: {report['reason']}", highlight=False)
    tasks = Table(title="tasks", show_edge=False, title_justify="left")
    for column in ("id", "title", "status", "attempts"):
        tasks.add_column(column)
    for t in report.get("tasks", []):
        tasks.add_row(t["id"], t.get("title", ""), t["status"], str(t["attempts"]))
    if report.get("tasks"):
        console.print(tasks)
    cost = report.get("cost", {})
    tests = report.get("tests", {})
    lines = [
        ("repository", f"{report.get('repo')} ({report.get('commits', 0)} commits)"),
        ("tests", f"{tests.get('passed', 0)} passed, {tests.get('failed', 0)} failed"),
        ("toolchain", report.get("toolchain") or "-"),
        ("delivery", _delivery(report)),
        ("mail", report.get("mail") or "-"),
        (
            "cost",
            f"${cost.get('usd', 0):.4f} for {cost.get('calls', 0)} model calls "
            f"({cost.get('input_tokens', 0)} in / {cost.get('output_tokens', 0)} out tokens)",
        ),
        ("time", f"{report.get('duration_s') or 0:.1f}s"),
    ]
    for name, value in lines:
        console.print(f"[bold]{name:>10}[/]  {value}", highlight=False)


def _delivery(report: dict[str, Any]) -> str:
    delivery = report.get("delivery")
    if not delivery:
        return "-"
    checks = delivery.get("checks", [])
    passed = sum(1 for c in checks if c.get("ok"))
    text = f"{delivery.get('summary', '')} ({passed} of {len(checks)} checks ok)"
    artifacts = delivery.get("artifacts") or []
    if artifacts:
        text += f"; {len(artifacts)} files in {str(artifacts[0]).rsplit('/', 2)[0]}"
    return text
