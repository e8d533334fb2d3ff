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
"""

from __future__ import annotations

from typing import Any

from vitco.integrations.payments.exceptions import PaymentRefused
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

    def __init__(self, client: stripe.StripeClient, *, days_until_due: int = 14) -> None:
        self.client = client
        self.days_until_due = days_until_due

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
