"""What to do next: every state a run can stop in, said in one sentence, with the commands that
continue it.

``next_steps(report)`` reads a report (``vitco.workflow.report.build_report`` plus what the
runner adds: ``resumable``, ``fix``) and returns ``{"command", "why"}`` items; the human
report prints them under ``next:`` and ``--json`` carries them as ``next``. ``headline`` is the
one sentence that says why the run stopped.
"""

from __future__ import annotations

import math
from typing import Any

HEADLINES = {
    "delivered": "the project was delivered",
    "awaiting_approval": "the run waits for your approval",
    "needs_attention": "the run stopped and needs you",
    "failed": "the run failed on an error in vitco",
    "budget_exceeded": "the run paused: its next model call would cross the project's budget",
    "interrupted": "the run was interrupted; nothing of the step it was in was kept",
    "running": "the run is running",
    "created": "the run has not started yet",
}


def headline(report: dict[str, Any]) -> str:
    """One sentence: what state the run is in, and why (the reason's first line)."""
    status = str(report.get("status"))
    text = HEADLINES.get(status, f"the run is {status}")
    reason = first_line(report.get("reason"))
    if reason and status != "interrupted":
        text += f": {reason}"
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")


def first_line(text: Any) -> str:
    """The first line of a reason, without a trailing full stop."""
    if not text:
        return ""
    return str(text).strip().splitlines()[0].rstrip(".")


def _step(command: str, why: str) -> dict[str, str]:
    return {"command": command, "why": why}


def raised_budget(cap: float | None, spent: float) -> float:
    """A cap to suggest: double the old one, and at least a dollar above what was spent."""
    base = max((cap or 0.0) * 2, spent + 1.0)
    return math.ceil(base * 100) / 100


def next_steps(report: dict[str, Any]) -> list[dict[str, str]]:
    """The commands that continue (or explain) a run in the state ``report`` describes."""
    run = report.get("run_id", "RUN")
    status = report.get("status")
    reason = str(report.get("reason") or "")
    if status == "delivered":
        return [
            _step(f"vitco show {run}", "read the spec, the plan and each task's tests"),
            _step(f"vitco diff {run}", "see the code the team wrote"),
        ]
    if status == "awaiting_approval":
        return [
            _step(f"vitco show {run}", "read the spec and the plan you are asked to approve"),
            _step(f"vitco approve {run}", "approve: the run goes on"),
            _step(f"vitco reject {run} --reason TEXT", "reject: the run stops, with your reason"),
        ]
    if status == "budget_exceeded":
        spent = float((report.get("cost") or {}).get("usd") or 0.0)
        cap = raised_budget(report.get("budget_usd"), spent)
        return [
            _step(f"vitco budget {run} --set {cap:.2f}", "raise the project's budget (USD)"),
            _step(f"vitco resume {run}", "continue; calls already made are not paid again"),
        ]
    if status == "interrupted":
        return [_step(f"vitco resume {run}", "continue where it stopped")]
    if status == "running":
        return [_step(f"vitco logs {run} --follow", "watch its events until it stops")]
    steps: list[dict[str, str]] = []
    fix = report.get("fix")
    if fix:
        steps.append(_step("vitco models check", str(fix).replace("RUN", str(run))))
    if status == "failed":
        steps.append(_step(f"vitco logs {run}", "the error and its traceback, with every event"))
    else:
        steps.append(_step(f"vitco show {run}", "the reason, the plan and each task's last tests"))
    if report.get("resumable", True) and not reason.startswith("rejected at"):
        why = "continue from the last checkpoint once the cause is fixed"
        steps.append(_step(f"vitco resume {run}", why))
    else:
        steps.append(
            _step(
                f"vitco fork {run} --at STEP --edit",
                "the run ended; start again from a step of vitco history "
                f"{run} with a changed spec or plan",
            )
        )
    return steps
