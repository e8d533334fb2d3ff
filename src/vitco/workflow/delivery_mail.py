"""The delivery mail: what was delivered, how to run it, what it cost, where the report is.

Built from what the run recorded (the spec, the final test report, the delivery and the DevOps
plan it followed, the cost ledger), never from free model text beyond those typed fields. The
client and the title were checked as one-line plain text when the brief was read; commands
from the DevOps plan are shown quoted for a shell (``shlex.join``), one per line. A client
reads it (the portal shows it too), so it names no path of vitco's host: the repository is
the git host's URL or the API's download, built files are named, not located.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import PurePosixPath
from typing import Any

from vitco.integrations.mail.templates import SENDER, compose
from vitco.toolchains import Shipment


@dataclass(frozen=True)
class Delivered:
    """What the mail reports, gathered by the deliver step."""

    run_id: str
    client_name: str
    client_email: str
    title: str
    summary: str
    repo: str  # where the client gets it: the git host's clone URL, else the API's download
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
    if d.repo.startswith(("https://", "http://")):
        lines = [f"git clone --branch {d.branch} {shlex.quote(d.repo)}"]
    else:
        lines = [f"Download: {d.repo} (the repository as a .tar.gz; also on the client portal)"]
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
        # by name: where the build put them is a path of vitco's host
        lines.extend(f"Built: {PurePosixPath(a).name}" for a in d.shipment.artifacts)
    return lines


def delivery_mail(d: Delivered, *, sender: str = SENDER) -> EmailMessage:
    """The mail to the client (plain text with an HTML alternative, from the ``delivered``
    template of ``vitco.integrations.mail``; the mailer sends it)."""
    if d.shipment is None:
        delivered = "none in this workflow (nothing is deployed)"
    else:
        checks = "passed" if d.shipment.ok else "FAILED"
        delivered = f"{d.shipment.summary} (checks {checks})"
    context = {
        "client_name": d.client_name, "title": d.title, "summary": d.summary, "repo": d.repo,
        "branch": d.branch, "tag": d.tag, "tests": d.tests, "delivery": delivered,
        "how_to_run": how_to_run(d), "usd": d.usd, "calls": d.calls,
        "input_tokens": d.input_tokens, "output_tokens": d.output_tokens, "run_id": d.run_id,
    }  # fmt: skip
    return compose(
        "delivered",
        context,
        to=(d.client_name, d.client_email),
        sender=sender,
        message_id=d.run_id,
    )
