"""The payments protocol: a quote from a plan's estimated cost, an invoice or a checkout page
per project.

``quote`` is a plain function: the estimate (what the models have cost so far plus a price
per complexity point of the plan's tasks) times one plus the tenant's margin, in whole cents,
never below the service's minimum charge.
"""

from __future__ import annotations

import math
import re
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from vitco.integrations.payments.exceptions import BadQuote

_CURRENCY = re.compile(r"[a-z]{3}")


class Quote(BaseModel):
    """What a project is billed: the estimate it came from and the margin applied."""

    estimated_usd: float
    margin: float
    amount_cents: int = Field(gt=0)
    currency: str


class InvoiceRequest(BaseModel):
    """One project's invoice; ``key`` makes issuing it idempotent."""

    key: str = Field(min_length=1, max_length=200)
    project_id: str
    tenant_id: str
    customer_email: str
    customer_name: str = ""
    description: str = Field(max_length=500)
    quote: Quote


class Invoice(BaseModel):
    """What the client is asked to pay: an invoice, or a checkout page (a Stripe Checkout
    Session: ``id`` is the session's, ``url`` the page, ``status`` ``open`` until paid)."""

    id: str
    url: str
    amount_cents: int
    currency: str
    status: Literal["draft", "open", "paid", "void", "uncollectible"]


class Payments(Protocol):
    """Where invoices and checkout pages are made (``LocalPayments``, ``StripePayments``)."""

    def issue(self, request: InvoiceRequest) -> Invoice:
        """The invoice of ``request.key``, issued (finalized, payable) if it does not exist."""
        ...

    def checkout(self, request: InvoiceRequest) -> Invoice:
        """The checkout page of ``request.key`` for its quote, made if it does not exist (a
        key's checkout and its invoice are different things)."""
        ...


def quote(
    *,
    spent_usd: float,
    points: int,
    usd_per_point: float,
    margin: float,
    currency: str = "usd",
    minimum_cents: int = 50,
) -> Quote:
    """The price of a project: ``(spent_usd + points * usd_per_point) * (1 + margin)``."""
    if not math.isfinite(margin) or not 0 <= margin <= 10:
        raise BadQuote("margin", margin, "give a margin between 0 and 10 (0.3 is 30 %)")
    if not _CURRENCY.fullmatch(currency):
        raise BadQuote("currency", currency, "give a three-letter ISO code in lower case")
    estimate = spent_usd + points * usd_per_point
    if not math.isfinite(estimate) or estimate < 0 or points < 0:
        raise BadQuote("estimate", estimate, "the estimate must be a finite amount, >= 0")
    cents = max(minimum_cents, math.ceil(round(estimate * (1 + margin) * 100, 6)))
    if cents > 99_999_999:  # Stripe's largest amount
        raise BadQuote("amount", cents, "more than 999,999.99 cannot be invoiced at once")
    return Quote(estimated_usd=estimate, margin=margin, amount_cents=cents, currency=currency)
