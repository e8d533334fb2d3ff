"""Stripe as the payment service, through the official SDK's ``StripeClient`` (passed in).

One invoice per project, in Stripe's documented order (https://docs.stripe.com/invoicing/
integration): a customer (``POST /v1/customers``), a draft invoice sent for payment by Stripe
(``POST /v1/invoices``, ``collection_method=send_invoice``), its line (``POST
/v1/invoiceitems`` with ``invoice=``), then ``POST /v1/invoices/{id}/finalize``, which makes it
payable at its ``hosted_invoice_url``. Every object carries ``metadata[vitco_project_id]``,
which is how the ``invoice.paid`` webhook (``api/hooks.py``, verified with Stripe's signature
scheme) finds the project. Each request sends an idempotency key derived from the invoice's
key, so a retried call within Stripe's 24 hours makes nothing twice; the workflow records the
issued invoice (``Store.once``) so a later resume never asks again. Stripe's errors become
``PaymentRefused`` with Stripe's code and message (never the key).

A checkout page instead of an invoice (``checkout``): one Checkout Session per project
(``POST /v1/checkout/sessions``, https://docs.stripe.com/api/checkout/sessions/create),
``mode=payment`` with one line of the quote's amount (``price_data``: no product or price
object to keep), the client's address, ``client_reference_id`` the project, the project and
tenant in the session's and its payment intent's ``metadata``, and ``success_url`` (hosted
pages need one: ``VITCO_CHECKOUT_SUCCESS_URL``). The client pays at its ``url``; Stripe's
``checkout.session.completed`` webhook (paid) opens the gate.
"""

from __future__ import annotations

from typing import Any

from vitco.integrations.payments.exceptions import PaymentError, PaymentRefused
from vitco.integrations.payments.protocol import Invoice, InvoiceRequest

try:
    import stripe
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the Stripe adapter needs the stripe SDK: pip install 'vitco[payments]'"
    ) from exc

SERVICE = "Stripe"


class StripePayments:
    """Invoices on the Stripe account of ``client``."""

    def __init__(
        self,
        client: stripe.StripeClient,
        *,
        days_until_due: int = 14,
        success_url: str | None = None,
    ) -> None:
        self.client = client
        self.days_until_due = days_until_due
        self.success_url = success_url

    def checkout(self, request: InvoiceRequest) -> Invoice:
        if not self.success_url:
            raise PaymentError(
                "a Stripe checkout page needs where to send the client after paying: "
                "set VITCO_CHECKOUT_SUCCESS_URL"
            )
        quote = request.quote
        meta = {"vitco_project_id": request.project_id, "vitco_tenant_id": request.tenant_id}
        name = request.description[:250] or request.project_id
        try:
            session = self.client.v1.checkout.sessions.create(
                params={
                    "mode": "payment",
                    "line_items": [{"quantity": 1, "price_data": {
                        "currency": quote.currency, "unit_amount": quote.amount_cents,
                        "product_data": {"name": name},
                    }}],
                    "customer_email": request.customer_email,
                    "client_reference_id": request.project_id, "metadata": meta,
                    "payment_intent_data": {"metadata": meta},
                    "success_url": self.success_url,
                },
                options={"idempotency_key": f"{request.key}/checkout"},
            )  # fmt: skip
        except stripe.StripeError as exc:
            raise PaymentRefused(
                SERVICE, "create the checkout session", exc.code, _message(exc)
            ) from None
        paid = session.status == "complete" and session.payment_status == "paid"
        return Invoice(
            id=str(session.id),
            url=str(session.url or ""),
            amount_cents=int(session.amount_total or quote.amount_cents),
            currency=str(session.currency or quote.currency),
            status="paid" if paid else "void" if session.status == "expired" else "open",
        )

    def issue(self, request: InvoiceRequest) -> Invoice:
        key, quote = request.key, request.quote
        meta = {"vitco_project_id": request.project_id, "vitco_tenant_id": request.tenant_id}
        v1 = self.client.v1
        action = "create the customer"
        try:
            customer = v1.customers.create(
                params={"email": request.customer_email, "name": request.customer_name,
                        "metadata": meta},
                options={"idempotency_key": f"{key}/customer"},
            )  # fmt: skip
            action = "create the invoice"
            draft = v1.invoices.create(
                params={
                    "customer": customer.id, "collection_method": "send_invoice",
                    "days_until_due": self.days_until_due, "currency": quote.currency,
                    "description": request.description, "metadata": meta,
                    "auto_advance": False,
                },
                options={"idempotency_key": f"{key}/invoice"},
            )  # fmt: skip
            action = "add the invoice's line"
            v1.invoice_items.create(
                params={
                    "customer": customer.id, "invoice": str(draft.id),
                    "amount": quote.amount_cents, "currency": quote.currency,
                    "description": request.description, "metadata": meta,
                },
                options={"idempotency_key": f"{key}/item"},
            )  # fmt: skip
            action = "finalize the invoice"
            final = v1.invoices.finalize_invoice(
                str(draft.id), options={"idempotency_key": f"{key}/finalize"}
            )
        except stripe.StripeError as exc:
            raise PaymentRefused(SERVICE, action, exc.code, _message(exc)) from None
        return Invoice(
            id=str(final.id),
            url=str(final.hosted_invoice_url or ""),
            amount_cents=int(final.amount_due or quote.amount_cents),
            currency=str(final.currency or quote.currency),
            status=_status(final.status),
        )


def _message(exc: stripe.StripeError) -> str:
    error: Any = exc.error
    message = getattr(error, "message", None) if error is not None else None
    return str(message or exc.user_message or type(exc).__name__)


def _status(value: object) -> Any:
    return value if value in ("draft", "open", "paid", "void", "uncollectible") else "open"
