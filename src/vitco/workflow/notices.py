"""The client's mails along a run, besides the delivery and the invoice: accepted, plan ready,
needs attention.

Each is sent at one moment through the configured mailer (the outbox always, then SMTP or
SendGrid when configured), to the project's client (the brief's ``client:``; a project
without one gets none, as the delivery step says), and once per moment: the moment's key
goes through ``Store.once`` and names the outbox file, so a crash between sending and
recording, or between recording and the step's checkpoint, sends nothing twice on resume.

=================  =====================================  ======================================
mail               moment                                 key
=================  =====================================  ======================================
accepted           the project's first run starts (a      ``accepted/<project>``
                   brief from the CLI, the API or a
                   webhook)
plan_ready         the plan is stored (``waits`` says     ``<run>/plan_ready``
                   whether an approval or a payment
                   gate follows it)
needs_attention    a task is given up                     ``<run>/attention/<task>``
needs_attention    the run stops needing someone: at a    ``<run>/attention/<checkpoint>/<status>``
                   gate, failed, over its budget, or
                   needs attention
=================  =====================================  ======================================

A run that stops at the same checkpoint with the same status again (resumed before anything
was fixed) mails nothing new: the client already knows. A run waiting at its payment gate
gets the invoice mail instead (``payment_steps``). What a client reads is client text: a
defect's exception (``failed``) is not shown, only that vitco stopped on an error of its own;
other reasons lose the data dir's path (``Runtime.public``) and known secrets.

A mail that cannot be made or relayed never stops the run: it stays in the outbox (relay
failures) and a ``warning`` event says why.
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import Any

from vitco.agents.outputs import Plan
from vitco.integrations.mail import MailError, MailKind, MailNotRelayed, compose
from vitco.workflow.payment_steps import WAITING, price
from vitco.workflow.runtime import Runtime
from vitco.workflow.template import load as load_template

STOPS = ("awaiting_approval", "needs_attention", "failed", "budget_exceeded")
"""Run statuses the client hears about (``interrupted`` is an operator's stop, not theirs)."""

DEFECT = (
    "vitco stopped on an error of its own (not something in your brief); the team has the "
    "details in the run's log"
)


def accepted(rt: Runtime) -> None:
    """The project's brief is taken on (once per project: its first run)."""
    project = rt.client_project()
    context = {"title": project.name, "project_id": project.id}
    _send(rt, "accepted", context, f"accepted/{project.id}")


def plan_ready(rt: Runtime, plan: Plan) -> None:
    """The plan is made: its tasks, the estimate and whether a gate waits after it."""
    project = rt.client_project()
    tasks = [{"title": t.title, "role": t.role, "complexity": t.complexity} for t in plan.tasks]
    context = {
        "title": project.name,
        "tasks": tasks,
        "estimate_usd": price(rt, plan).amount_cents / 100,
        "waits": _waits_after(rt, "plan"),
    }
    _send(rt, "plan_ready", context, f"{rt.run_id}/plan_ready", step="plan")


def task_given_up(rt: Runtime, task: str, reason: str) -> None:
    """A task is given up (its attempts spent): the others go on, the client is told."""
    context = {"reason": f"{task}: {rt.public(reason)}", "gate": False, "ended": False}
    _attention(rt, context, f"{rt.run_id}/attention/{task}", step="give_up", task=task)


def run_stopped(
    rt: Runtime, status: str, reason: str, checkpoint: str | None, *, resumable: bool = True
) -> None:
    """The run stopped with ``status`` at ``checkpoint`` (None: before its first one);
    ``resumable``: False when its graph ended (a gate rejected, integration failed), so the
    mail does not offer a resume that would change nothing."""
    if status not in STOPS or (status == "awaiting_approval" and reason.startswith(WAITING)):
        return  # not the client's business, or the invoice mail said it already
    text = DEFECT if status == "failed" else rt.public(reason or status)
    gate = status == "awaiting_approval"
    context = {"reason": text, "gate": gate, "ended": not gate and not resumable}
    _attention(rt, context, f"{rt.run_id}/attention/{checkpoint or 'start'}/{status}")


def _attention(
    rt: Runtime, context: dict[str, Any], key: str, *, step: str | None = None,
    task: str | None = None,
) -> None:  # fmt: skip
    title = rt.client_project().name
    _send(rt, "needs_attention", context | {"title": title}, key, step=step, task=task)


def _waits_after(rt: Runtime, node: str) -> str | None:
    """What the run's template waits for right after ``node``: ``approval`` (a gate),
    ``payment`` (the payment step) or None."""
    template, _lines, _file = load_template(rt.run_row().workflow, rt.settings.home)
    if any(g.after == node for g in template.gates):
        return "approval"
    for edge in template.edges:
        if edge.source != node or edge.to not in template.nodes:
            continue
        target = template.nodes[edge.to]
        if target.type == "gate" or any(g.before == edge.to for g in template.gates):
            return "approval"
        if target.type == "tool" and target.step == "payment":
            return "payment"
    return None


def _send(
    rt: Runtime, kind: MailKind, context: dict[str, Any], key: str, *, step: str | None = None,
    task: str | None = None,
) -> None:  # fmt: skip
    """Send ``kind`` to the project's client once per ``key`` (see the module docstring)."""
    name, email = parseaddr(rt.client_project().client)
    if not email:
        return
    fresh: list[str] = []

    def send() -> dict[str, Any]:
        where = rt.mailer.send(message, key=key)
        rt.fault(f"after-mail:{kind}")  # sent, not yet recorded
        fresh.append(where)
        return {"path": where}

    label = kind.replace("_", "-")
    try:
        context = {"client_name": name or email, "run_id": rt.run_id, **context}
        message = compose(
            kind, context, to=(name or email, email), sender=rt.settings.mail_from,
            message_id=f"{rt.run_id}-{label}",
        )  # fmt: skip
        rt.store.once(rt.run_id, key, send)
    except MailNotRelayed as exc:  # kept in the outbox; sending the key again retries
        rt.emit("warning", f"{label} mail not sent: {rt.public(str(exc.cause))}",
                step=step, task=task)  # fmt: skip
        return
    except (MailError, OSError) as exc:  # a value the template refuses, an outbox unwritable
        rt.emit("warning", f"{label} mail not made: {rt.public(str(exc))}",
                step=step, task=task)  # fmt: skip
        return
    if fresh:
        # at once: a crash before the step's checkpoint must not lose it (nor repeat it:
        # the step run again finds the mail recorded)
        rt.emit("mail", f"{label} mail sent to the client ({key})", step=step, task=task,
                now=True)  # fmt: skip
