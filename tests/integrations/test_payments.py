"""One conformance suite for ``Payments``: the local invoices and the Stripe adapter (the
official SDK) against the in-repo fake; the quote; Stripe's signature scheme."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe

from tests.fakes.stripe_server import FakeStripe, form, sign
from vitco.integrations.payments import (
    BadQuote,
    InvoiceRequest,
    LocalPayments,
    PaymentError,
    PaymentRefused,
    Payments,
    quote,
)
from vitco.integrations.payments.stripe import StripePayments
from vitco.integrations.webhooks import BadSignature
from vitco.integrations.webhooks.signing import verify_timestamped

KEY = "sk_test_conformance_0123456789"
SUCCESS_URL = "https://portal.example.com/paid"


def _client(url: str, key: str = KEY) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": url}, max_network_retries=0)


@pytest.fixture(params=["local", "stripe"])
def payments(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Payments]:
    if request.param == "local":
        yield LocalPayments(tmp_path / "invoices")
        return
    with FakeStripe(KEY) as fake:
        yield StripePayments(_client(fake.url), success_url=SUCCESS_URL)
        assert fake.errors == []


def _request(key: str = "p-1/invoice", cents: int = 1234) -> InvoiceRequest:
    q = quote(spent_usd=0.0, points=0, usd_per_point=0.0, margin=0.0, minimum_cents=cents)
    return InvoiceRequest(
        key=key, project_id="p-1", tenant_id="default", customer_email="grace@example.com",
        customer_name="Grace Hopper", description="Calculator: delivery", quote=q,
    )  # fmt: skip


def test_an_invoice_is_issued_once_per_key(payments: Payments) -> None:
    first = payments.issue(_request())
    again = payments.issue(_request())
    assert again.id == first.id and first.url
    assert (first.amount_cents, first.currency, first.status) == (1234, "usd", "open")
    other = payments.issue(_request("p-2/invoice", 999))
    assert other.id != first.id and other.amount_cents == 999


def test_a_checkout_is_made_once_per_key_for_the_quote(payments: Payments) -> None:
    first = payments.checkout(_request("p-1/checkout"))
    again = payments.checkout(_request("p-1/checkout"))
    assert again.id == first.id and first.url
    assert (first.amount_cents, first.currency, first.status) == (1234, "usd", "open")
    other = payments.checkout(_request("p-2/checkout", 999))
    assert other.id != first.id and other.amount_cents == 999
    invoice = payments.issue(_request("p-1/checkout"))  # an invoice of the same key is its own
    assert invoice.id != first.id


def test_a_stripe_checkout_session_is_a_hosted_payment_of_the_quote() -> None:
    with FakeStripe(KEY) as fake:
        made = StripePayments(_client(fake.url), success_url=SUCCESS_URL).checkout(_request())
        assert made.id.startswith("cs_") and made.url.startswith("https://checkout.stripe.com/")
        session = fake.sessions[made.id]
        assert session["amount_total"] == 1234 and session["status"] == "open"
        assert session["metadata"] == {"vitco_project_id": "p-1", "vitco_tenant_id": "default"}
        # the payment intent carries the project too (a payment_intent.succeeded names it)
        assert session["payment_intent_data"]["metadata"]["vitco_project_id"] == "p-1"
        assert session["client_reference_id"] == "p-1"
        assert session["customer_email"] == "grace@example.com"
        (post,) = [c for c in fake.calls if c.path == "/v1/checkout/sessions"]
        sent = form(post.body)
        assert sent["success_url"] == SUCCESS_URL and sent["mode"] == "payment"
        assert sent["line_items"]["0"]["price_data"]["product_data"]["name"]
        assert post.headers.get("idempotency-key") == "p-1/invoice/checkout"
        assert fake.errors == []


def test_a_stripe_checkout_refusal_is_typed_and_never_holds_the_key() -> None:
    with FakeStripe(KEY) as fake:
        with pytest.raises(PaymentRefused) as refused:
            StripePayments(_client(fake.url, "sk_test_wrong"), success_url=SUCCESS_URL).checkout(
                _request()
            )
        assert refused.value.action == "create the checkout session"
        assert "sk_test_wrong" not in str(refused.value)
        with pytest.raises(PaymentRefused) as small:
            StripePayments(_client(fake.url), success_url=SUCCESS_URL).checkout(
                _request("p-3/checkout", 10)
            )
        assert small.value.code == "amount_too_small"
        without = StripePayments(_client(fake.url))  # no success URL: refused before a request
        with pytest.raises(PaymentError, match="VITCO_CHECKOUT_SUCCESS_URL"):
            without.checkout(_request("p-4/checkout"))
        assert [c.path for c in fake.calls].count("/v1/checkout/sessions") == 2


def test_stripe_objects_carry_the_project_and_the_amount(tmp_path: Path) -> None:
    with FakeStripe(KEY) as fake:
        invoice = StripePayments(_client(fake.url)).issue(_request())
        stored = fake.invoices[invoice.id]
        assert stored["metadata"]["vitco_project_id"] == "p-1"
        assert stored["collection_method"] == "send_invoice" and stored["status"] == "open"
        (item,) = fake.items.values()
        assert item["amount"] == 1234 and item["invoice"] == invoice.id
        posted = [c for c in fake.calls if c.method == "POST"]
        assert all(c.headers.get("idempotency-key") for c in posted)
        customer = form(next(c.body for c in posted if c.path == "/v1/customers"))
        assert customer["email"] == "grace@example.com"


def test_stripe_refusals_are_typed_and_never_hold_the_key() -> None:
    with FakeStripe(KEY) as fake:
        with pytest.raises(PaymentRefused) as refused:
            StripePayments(_client(fake.url, "sk_test_wrong")).issue(_request())
        assert refused.value.action == "create the customer"
        assert "sk_test_wrong" not in str(refused.value) and KEY not in str(refused.value)
        with pytest.raises(PaymentRefused) as small:
            StripePayments(_client(fake.url)).issue(_request("p-3/invoice", 10))
        assert small.value.code == "amount_too_small"


def test_the_quote_is_the_estimate_with_the_margin() -> None:
    q = quote(spent_usd=0.10, points=8, usd_per_point=0.05, margin=0.5)
    assert q.estimated_usd == pytest.approx(0.5) and q.amount_cents == 75
    assert quote(spent_usd=0, points=1, usd_per_point=0.01, margin=0).amount_cents == 50  # minimum
    for bad in ({"margin": -0.1}, {"margin": float("nan")}, {"currency": "US$"},
                {"spent_usd": float("inf")}, {"points": -3}, {"usd_per_point": 1e9}):  # fmt: skip
        args = {"spent_usd": 0.0, "points": 1, "usd_per_point": 0.05, "margin": 0.3} | bad
        with pytest.raises(BadQuote):
            quote(**args)


def test_stripe_signatures_verify_both_ways() -> None:
    """vitco's verifier accepts what Stripe's scheme signs and refuses what it does not; the
    SDK's own verifier accepts the fake's signature (the same scheme)."""
    secret = "whsec_conformance"
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "invoice.paid",
                          "data": {"object": {"object": "invoice"}}}).encode()  # fmt: skip
    header = sign(payload, secret)
    event = stripe.Webhook.construct_event(payload, header, secret)
    assert event.id == "evt_1"
    verify_timestamped(secret, payload, header, now=time.time(), tolerance_s=300, scheme="stripe")
    for forged in (sign(payload, "whsec_other"), sign(payload + b" ", secret),
                   sign(payload, secret, 1_000)):  # fmt: skip
        with pytest.raises(BadSignature):
            verify_timestamped(secret, payload, forged, now=time.time(), tolerance_s=300,
                               scheme="stripe")  # fmt: skip
