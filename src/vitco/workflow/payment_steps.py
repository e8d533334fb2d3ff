"""The payment gate: a run waits here until its project is paid.

A template puts ``{type: tool, step: payment}`` where work should wait for the money (the
``deliver-paid-project`` template: after the plan, before any task is built). The step quotes
the project from its plan (``payments.quote``: what the models cost so far plus a price per
complexity point, times one plus the tenant's margin), issues the project's invoice once
(``Store.once``; the service's own idempotency keys cover a crash in between), or with
``VITCO_PAYMENT_MODE=checkout`` makes its checkout page (a Stripe Checkout Session) instead,
mails it to the client (the ``invoice`` mail template, with the page to pay at) and, unless the
project is paid already, pauses the run like an approval gate (``awaiting_approval``, the
question starting with :data:`WAITING`). A verified ``invoice.paid`` or
``checkout.session.completed`` webhook records the payment (:func:`record_payment`, once per
project) and resumes the run; so does a manager's ``vitco approve`` (payment received
otherwise, or waived: the event says which), while a rejection ends the run. A payment for
less than the invoice does not open the gate.
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import Any

from langgraph.types import interrupt

from vitco.agents.outputs import Plan, Spec
from vitco.integrations.mail import MailNotRelayed, TemplateError, compose
from vitco.integrations.payments import Invoice, InvoiceRequest, Quote, quote
from vitco.store import Store
from vitco.workflow.runtime import Runtime
from vitco.workflow.state import RunState
from vitco.workflow.steps import step

WAITING = "waiting for payment"
Update = dict[str, Any]


def payment_key(project_id: str) -> str:
    return f"payment/{project_id}"


def record_payment(
    store: Store, run_id: str, project_id: str, amount: int | None, currency: str | None,
    event_id: str,
) -> dict[str, Any]:  # fmt: skip
    """The project's payment, recorded once (a replayed event changes nothing)."""
    paid = {"amount": amount, "currency": currency, "event": event_id}
    return store.once(run_id, payment_key(project_id), lambda: paid)


def price(rt: Runtime, plan: Plan) -> Quote:
    """The project's price for ``plan``: what its models cost so far plus a price per
    complexity point, times one plus the tenant's margin (what the invoice bills and the
    plan-ready mail estimates)."""
    settings = rt.settings
    tenant = rt.store.get_project(rt.project_id).tenant_id
    return quote(
        spent_usd=rt.store.spent_usd(rt.project_id),
        points=sum(t.complexity for t in plan.tasks),
        usd_per_point=settings.quote_usd_per_point,
        margin=settings.tenant_margins.get(tenant, settings.quote_margin),
        currency=settings.payment_currency,
    )


def _issue(rt: Runtime, state: RunState) -> Invoice:
    assert rt.payments is not None
    project = rt.store.get_project(rt.project_id)
    plan = Plan.model_validate(rt.artifact(state["plan"]))
    spec = Spec.model_validate(rt.artifact(state["spec"]))
    priced = price(rt, plan)
    name, email = parseaddr(project.client)
    request = InvoiceRequest(
        key=f"vitco/{rt.project_id}/invoice",
        project_id=rt.project_id,
        tenant_id=project.tenant_id,
        customer_email=email or f"{rt.project_id}@clients.vitco.local",
        customer_name=name,
        description=f"{spec.title[:200]}: {len(plan.tasks)} tasks ({rt.project_id})",
        quote=priced,
    )
    payments, mode = rt.payments, rt.settings.payment_mode
    make = payments.checkout if mode == "checkout" else payments.issue

    def issue() -> dict[str, Any]:
        made = make(request).model_dump()
        rt.fault("mid-invoice")  # issued on the service, not yet recorded here
        return made

    issued = rt.store.once(rt.run_id, f"{mode}/{rt.project_id}", issue)
    invoice = Invoice.model_validate(issued)
    if not rt.store.artifacts(rt.run_id, "invoice"):
        content = invoice.model_dump() | priced.model_dump() | {"mode": mode}
        rt.store.put_artifact(rt.run_id, "invoice", content)
        if email:
            _mail(rt, invoice, spec.title, request.description, (name or email, email))
    return invoice


def _mail(rt: Runtime, invoice: Invoice, title: str, line: str, to: tuple[str, str]) -> None:
    """The invoice to the client, once (the ``invoice`` template; a relay failure keeps the
    mail in the outbox and says so, the gate waits all the same)."""
    amount = f"{invoice.amount_cents / 100:.2f}"
    context = {
        "client_name": to[0], "invoice_id": invoice.id, "title": title,
        "checkout": rt.settings.payment_mode == "checkout",
        "lines": [{"description": line, "amount": amount}], "total": amount,
        "currency": invoice.currency.upper(),
        "pay_url": invoice.url if invoice.url.startswith(("http://", "https://")) else None,
    }  # fmt: skip
    key = f"{rt.run_id}/invoice"
    try:
        message = compose("invoice", context, to=to, message_id=f"{rt.run_id}-invoice")
        sent = rt.store.once(rt.run_id, key, lambda: {"path": rt.mailer.send(message, key=key)})
    except TemplateError as exc:  # a value the template refuses (a service's odd URL)
        rt.emit("warning", f"invoice mail not made: {exc}", step="payment")
        return
    except MailNotRelayed as exc:
        rt.emit("warning", rt.public(f"invoice mail not sent: {exc.cause}; kept in "
                f"{exc.path}"), step="payment")  # fmt: skip
        return
    rt.emit("mail", rt.public(f"invoice mail written to {sent['path']}"), step="payment")


def _enough(paid: dict[str, Any] | None, invoice: Invoice) -> bool:
    if paid is None:
        return False
    return paid.get("amount") is None or int(paid["amount"]) >= invoice.amount_cents


@step("payment", level="project", outcomes=("paid", "rejected"))
def payment(rt: Runtime, state: RunState) -> Update:
    if rt.payments is None:
        rt.emit("payment", "no payment service configured: the gate is open", step="payment")
        return {"outcome": "paid"}
    invoice = _issue(rt, state)
    what = "checkout session" if rt.settings.payment_mode == "checkout" else "invoice"
    amount = f"{invoice.amount_cents / 100:.2f} {invoice.currency.upper()}"
    paid = rt.store.get_effect(payment_key(rt.project_id))
    if _enough(paid, invoice):
        rt.emit("payment", f"paid: {what} {invoice.id} ({amount})", step="payment")
        return {"outcome": "paid"}
    # a client reads the question (the run's reason): a local invoice's file is named by its
    # place in the data dir, not by the host's path
    url = invoice.url
    if not url.startswith(("https://", "http://")):
        url = rt.public(url.removeprefix("file://"))
    question = f"{WAITING} of {what} {invoice.id} ({amount}): {url}"
    rt.emit("gate", question, step="payment", data={"invoice": invoice.id, "url": url})
    answer = interrupt({"gate": "payment", "question": question, "invoice": invoice.id})
    paid = rt.store.get_effect(payment_key(rt.project_id))
    if not _enough(paid, invoice) and isinstance(answer, dict) and answer.get("paid"):
        # a payment came in, for less than the invoice: wait again for the rest (or a manager)
        short = f"{WAITING}: {paid.get('amount') if paid else 0} of {invoice.amount_cents} paid"
        rt.emit("gate", short, step="payment", data={"invoice": invoice.id})
        answer = interrupt({"gate": "payment", "question": short, "invoice": invoice.id})
        paid = rt.store.get_effect(payment_key(rt.project_id))
    if _enough(paid, invoice):
        rt.emit("payment", f"paid: {what} {invoice.id} ({amount})", step="payment")
        return {"outcome": "paid"}
    if isinstance(answer, dict) and answer.get("approved"):
        why = answer.get("reason") or "no reason given"
        rt.emit("payment", f"gate opened by a manager without a recorded payment: {why}",
                step="payment")  # fmt: skip
        return {"outcome": "paid"}
    why = answer.get("reason") if isinstance(answer, dict) else None
    reason = f"payment refused at the gate{': ' + why if why else ''}"
    rt.emit("gate", reason, step="payment")
    return {"outcome": "rejected", "status": "needs_attention", "reason": reason}
