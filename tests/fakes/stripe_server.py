"""A fake Stripe: the endpoints vitco's ``StripePayments`` calls, in Stripe's wire format, and
the signed webhook events Stripe would send.

Requests are form-encoded with Stripe's bracket notation (``metadata[k]=v``); answers are the
documented objects (``customer``, ``invoice``, ``invoiceitem``, ``checkout.session``) with the
fields vitco reads,
errors are ``{"error": {"type", "code", "message"}}`` with Stripe's statuses (401 for a bad
key, 400 ``parameter_missing`` / ``amount_too_small``). An ``Idempotency-Key`` seen before on
the same path answers the first answer again, as Stripe does. ``paid(invoice_id)`` marks an
invoice paid and returns the ``invoice.paid`` event, ``completed(session_id)`` the
``checkout.session.completed`` one; ``sign(payload, secret)`` is Stripe's
``Stripe-Signature`` header (``t=<unix>,v1=<HMAC-SHA256 of "t.payload">``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes.vendor_http import Answer, Call, FakeHTTP, Route, route


def form(body: bytes) -> dict[str, Any]:
    """Stripe's form encoding into nested dicts (``a[b]=c`` -> ``{"a": {"b": "c"}}``)."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return out


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def _error(status: int, code: str, message: str, kind: str = "invalid_request_error") -> Answer:
    return status, {"error": {"type": kind, "code": code, "message": message}}


class FakeStripe(FakeHTTP):
    vendor = "stripe"

    def __init__(self, api_key: str, *more_keys: str) -> None:
        """``api_key`` and ``more_keys``: the secret keys it accepts (several Stripe accounts,
        e.g. one per tenant; each request's ``Authorization`` header is in ``calls``)."""
        self.api_key = api_key
        self.api_keys = {api_key, *more_keys}
        self.customers: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.seen: dict[tuple[str, str], Answer] = {}
        self._ids = itertools.count(1)
        super().__init__()

    def routes(self) -> list[Route]:
        return [
            route("POST", r"/v1/customers", self.create_customer),
            route("POST", r"/v1/invoices", self.create_invoice),
            route("GET", r"/v1/invoices/([^/]+)", self.get_invoice),
            route("POST", r"/v1/invoices/([^/]+)/finalize", self.finalize),
            route("POST", r"/v1/invoiceitems", self.create_item),
            route("POST", r"/v1/checkout/sessions", self.create_session),
            route("GET", r"/v1/checkout/sessions/([^/]+)", self.get_session),
        ]

    def _id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):06d}"

    def dispatch(self, call: Call) -> Answer:
        if call.headers.get("authorization") not in {f"Bearer {k}" for k in self.api_keys}:
            return _error(
                401, "invalid_api_key", "Invalid API Key provided", "invalid_request_error"
            )
        key = call.headers.get("idempotency-key")
        if key and (call.path, key) in self.seen:
            return self.seen[(call.path, key)]
        answer = super().dispatch(call)
        if key:
            self.seen[(call.path, key)] = answer
        return answer

    def create_customer(self, call: Call) -> Answer:
        data = form(call.body)
        customer = {"id": self._id("cus"), "object": "customer", "email": data.get("email"),
                    "name": data.get("name"), "metadata": data.get("metadata", {})}  # fmt: skip
        self.customers[customer["id"]] = customer
        return 200, customer

    def create_invoice(self, call: Call) -> Answer:
        data = form(call.body)
        if data.get("customer") not in self.customers:
            return _error(400, "resource_missing", "No such customer")
        invoice = {
            "id": self._id("in"), "object": "invoice", "customer": data["customer"],
            "status": "draft", "currency": data.get("currency", "usd"), "amount_due": 0,
            "amount_paid": 0, "description": data.get("description"),
            "collection_method": data.get("collection_method", "charge_automatically"),
            "metadata": data.get("metadata", {}), "hosted_invoice_url": None,
        }  # fmt: skip
        self.invoices[invoice["id"]] = invoice
        return 200, invoice

    def create_item(self, call: Call) -> Answer:
        data = form(call.body)
        invoice = self.invoices.get(data.get("invoice", ""))
        if invoice is None:
            return _error(400, "resource_missing", "No such invoice")
        if "amount" not in data:
            return _error(400, "parameter_missing", "Missing required param: amount.")
        amount = int(data["amount"])
        if amount < 50:
            return _error(400, "amount_too_small", "Amount must be at least $0.50 usd")
        item = {"id": self._id("ii"), "object": "invoiceitem", "amount": amount,
                "currency": data.get("currency"), "invoice": invoice["id"],
                "customer": data.get("customer"), "metadata": data.get("metadata", {})}  # fmt: skip
        self.items[item["id"]] = item
        invoice["amount_due"] += amount
        return 200, item

    def get_invoice(self, call: Call, invoice_id: str) -> Answer:
        invoice = self.invoices.get(invoice_id)
        return (200, invoice) if invoice else _error(404, "resource_missing", "No such invoice")

    def finalize(self, call: Call, invoice_id: str) -> Answer:
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            return _error(404, "resource_missing", "No such invoice")
        if invoice["status"] == "draft":
            invoice["status"] = "open"
            invoice["hosted_invoice_url"] = f"https://invoice.stripe.com/i/{invoice_id}"
        return 200, invoice

    def create_session(self, call: Call) -> Answer:
        """``POST /v1/checkout/sessions`` (https://docs.stripe.com/api/checkout/sessions/create):
        a hosted, one-time payment (``mode=payment``) of ``line_items`` given with
        ``price_data``; ``success_url`` is required in hosted mode."""
        data = form(call.body)
        if data.get("mode") != "payment":
            return _error(400, "parameter_invalid_string", "mode must be payment here")
        if not data.get("success_url"):
            return _error(400, "parameter_missing", "Missing required param: success_url.")
        items = data.get("line_items") or {}
        if not items:
            return _error(400, "parameter_missing", "Missing required param: line_items.")
        total, currency = 0, None
        for item in items.values():
            price = item.get("price_data") or {}
            if "unit_amount" not in price or not (price.get("product_data") or {}).get("name"):
                return _error(400, "parameter_missing", "Missing required param: price_data.")
            total += int(price["unit_amount"]) * int(item.get("quantity", 1))
            currency = price.get("currency")
        if total < 50:
            return _error(400, "amount_too_small", "Amount must be at least $0.50 usd")
        session_id = self._id("cs_test")
        session = {
            "id": session_id, "object": "checkout.session", "mode": "payment",
            "status": "open", "payment_status": "unpaid", "amount_total": total,
            "amount_subtotal": total, "currency": currency,
            "customer_email": data.get("customer_email"),
            "client_reference_id": data.get("client_reference_id"),
            "metadata": data.get("metadata", {}), "success_url": data["success_url"],
            "cancel_url": data.get("cancel_url"),
            "payment_intent_data": data.get("payment_intent_data", {}),
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }  # fmt: skip
        self.sessions[session_id] = session
        return 200, session

    def get_session(self, call: Call, session_id: str) -> Answer:
        session = self.sessions.get(session_id)
        return (200, session) if session else _error(404, "resource_missing", "No such session")

    def completed(self, session_id: str, payment_status: str = "paid") -> bytes:
        """The client paid at the session's URL: the ``checkout.session.completed`` event
        (``payment_status`` ``unpaid`` for a delayed method, whose money comes later)."""
        session = self.sessions[session_id]
        session.update(status="complete", payment_status=payment_status, url=None)
        event = {"id": self._id("evt"), "object": "event", "type": "checkout.session.completed",
                 "api_version": "2025-03-31.basil", "created": int(time.time()),
                 "data": {"object": dict(session)}}  # fmt: skip
        return json.dumps(event).encode()

    def paid(self, invoice_id: str) -> bytes:
        """Mark the invoice paid; the ``invoice.paid`` event Stripe would send, as bytes."""
        invoice = self.invoices[invoice_id]
        invoice.update(status="paid", amount_paid=invoice["amount_due"])
        event = {"id": self._id("evt"), "object": "event", "type": "invoice.paid",
                 "api_version": "2025-03-31.basil", "created": int(time.time()),
                 "data": {"object": dict(invoice)}}  # fmt: skip
        return json.dumps(event).encode()
