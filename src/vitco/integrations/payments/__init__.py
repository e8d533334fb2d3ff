"""Payments: a quote from a plan's estimate, one invoice per project (local files or Stripe)."""

from vitco.integrations.payments.exceptions import BadQuote, PaymentError, PaymentRefused
from vitco.integrations.payments.local import LocalPayments
from vitco.integrations.payments.protocol import Invoice, InvoiceRequest, Payments, Quote, quote

__all__ = [
    "BadQuote",
    "Invoice",
    "InvoiceRequest",
    "LocalPayments",
    "PaymentError",
    "PaymentRefused",
    "Payments",
    "Quote",
    "quote",
]
