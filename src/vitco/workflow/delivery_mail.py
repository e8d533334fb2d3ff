"""The delivery mail: what was delivered, how to run it, what it cost, where the report is.

Built from what the run recorded (the spec, the final test report, the delivery and the DevOps
plan it followed, the cost ledger), never from free model text beyond those typed fields. The
client and the title were checked as one-line plain text when the brief was read; commands
from the DevOps plan are shown quoted for a shell (``shlex.join``), one per line.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any

from vitco.toolchains import Shipment

SENDER = formataddr(("vitco delivery", "delivery@vitco.local"))


@dataclass(frozen=True)
class Delivered:
    """What the mail reports, gathered by the deliver step."""

    run_id: str
    client_name: str
    client_email: str
    title: str
    summary: str
    repo: str
    branch: str
    tag: str
    tests: str
    shipment: Shipment | None  # None: the workflow delivers without deploying (fix-bug)
    plan: Mapping[str, Any] | None  # what DevOps answered for the delivery, if asked
    usd: float
    calls: int
    input_tokens: int
    output_tokens: int


def how_to_run(d: Delivered) -> list[str]:
    """The lines that say how to get and run the project, from what the delivery did."""
    lines = [f"git clone --branch {d.branch} {shlex.quote(d.repo)}"]
    plan = d.plan or {}
    for argv in plan.get("build") or []:
        lines.append(f"Build: {shlex.join(argv)}")
    if plan.get("start"):
        env = [f"{name}={value}" for name, value in (plan.get("env") or {}).items()]
        lines.append(
            f"Start: {shlex.join(['env', *env, *plan['start']] if env else plan['start'])}"
        )
        lines.append(
            "  (vitco starts it this way and hands it a listening socket as file descriptor "
            "{fd}; serve it on a port of your own by changing that argument)"
        )
    if d.shipment is not None and d.shipment.url:
        url = f"{d.shipment.url}{plan.get('health_path') or ''}"
        lines.append(f"Try it: {url} (while vitco serves it)")
    for check in plan.get("checks") or []:
        lines.append(f"Try it: {shlex.join(check['argv'])}")
    if d.shipment is not None:
        lines.extend(f"Built: {artifact}" for artifact in d.shipment.artifacts)
    return lines


def delivery_mail(d: Delivered) -> EmailMessage:
    """The mail to the client (an RFC 5322 message; the outbox writes it)."""
    if d.shipment is None:
        delivered = "none in this workflow (nothing is deployed)"
    else:
        checks = "passed" if d.shipment.ok else "FAILED"
        delivered = f"{d.shipment.summary} (checks {checks})"
    run = "\n".join(f"  {line}" for line in how_to_run(d))
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = formataddr((d.client_name, d.client_email))
    message["Subject"] = f"Delivered: {d.title}"
    message["Message-ID"] = make_msgid(idstring=d.run_id, domain="vitco.local")
    message.set_content(
        f"Hello {d.client_name},\n\n"
        f'your project "{d.title}" is delivered.\n\n'
        f"{d.summary}\n\n"
        f"What you get\n"
        f"  Repository: {d.repo} (branch {d.branch}, tagged {d.tag})\n"
        f"  Tests: {d.tests}\n"
        f"  Delivery: {delivered}\n\n"
        f"How to run it\n{run}\n\n"
        f"What it cost\n"
        f"  ${d.usd:.4f} for {d.calls} model calls "
        f"({d.input_tokens:,} tokens in, {d.output_tokens:,} out)\n\n"
        f"The report\n"
        f"  Every task, commit, test and cost of this run: vitco report {d.run_id}\n"
        f"  (vitco report {d.run_id} --json for the same as data)\n\n"
        "-- vitco\n"
    )
    return message
