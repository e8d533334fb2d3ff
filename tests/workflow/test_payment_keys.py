"""Stripe at the payment gate. Each tenant bills on its own Stripe account: the gate issues a
tenant's invoice with the tenant's sealed secret ``stripe_api_key``, else
``VITCO_STRIPE_API_KEY``; a key that Stripe refuses stops the run needing attention, and no key
is echoed into what the run leaves. With ``payment_mode=checkout`` the gate makes a Checkout
Session instead and opens on its signed ``checkout.session.completed``."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.effects import mails, plain
from tests.fakes.stripe_server import FakeStripe, form, sign
from tests.workflow.scripted import BRIEF, happy_path, script
from vitco.api import hooks
from vitco.bootstrap import build, build_redactor, build_vault
from vitco.config import Settings
from vitco.sandbox import Sandbox
from vitco.store.repo import NewRun
from vitco.store.secrets import TenantSecrets
from vitco.workflow.brief import parse_brief
from vitco.workflow.payment_steps import WAITING, record_payment
from vitco.workflow.runner import create_project, execute, resume
from vitco.workflow.services import Services

pytestmark = pytest.mark.slow

KEYS = {"acme": "sk_test_acme_0123456789abcdef", "globex": "sk_test_globex_0123456789abcdef"}
SETTING_KEY = "sk_test_the_settings_0123456789"
WRONG = "sk_test_not_on_stripe_0123456789"


def _gate(services: Services, settings: Settings, tenant: str) -> dict[str, object]:
    """A deliver-paid-project run of a new project of ``tenant``, up to its payment gate."""
    model = script(happy_path())
    _project, _brief, _sha = create_project(
        services.store, settings, parse_brief(BRIEF, "brief.md"), tenant_id=tenant,
        run=NewRun(model=model.id, workflow="deliver-paid-project", run_id=f"r-{tenant}"),
    )  # fmt: skip
    return execute(services, f"r-{tenant}", model=model, inputs={"run_id": f"r-{tenant}"}).report


def test_each_tenant_is_billed_with_its_own_key(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    with FakeStripe(*KEYS.values(), SETTING_KEY) as fake:
        configured = settings.model_copy(update={
            "payments": "stripe", "stripe_api_key": SecretStr(SETTING_KEY),
            "stripe_api_url": fake.url,
        })  # fmt: skip
        services = build(configured, sandbox=sandbox)
        vault = build_vault(configured, services.store.sessions, build_redactor(configured))
        secrets = TenantSecrets(services.store.sessions, vault)
        for tenant in ("acme", "globex", "initech", "umbrella"):
            services.store.ensure_tenant(tenant, tenant.title())
        for tenant, key in KEYS.items():
            secrets.set(tenant, "stripe_api_key", key)
        secrets.set("umbrella", "stripe_api_key", WRONG)

        reports = {t: _gate(services, configured, t) for t in ("acme", "globex", "initech")}
        for tenant, report in reports.items():
            assert report["status"] == "awaiting_approval", (tenant, report["reason"])
            assert str(report["reason"]).startswith(WAITING)

        # every request made for a tenant's project carried that tenant's key; a tenant
        # without one (initech) was billed with the setting's
        expected = KEYS | {"initech": SETTING_KEY}
        by_tenant: dict[str, set[str]] = {}
        for call in fake.calls:
            meta = form(call.body).get("metadata", {}) if call.method == "POST" else {}
            invoice = call.path.split("/")[3] if call.path.endswith("/finalize") else None
            payer = meta.get("vitco_tenant_id") or (
                fake.invoices[invoice]["metadata"]["vitco_tenant_id"] if invoice else None
            )
            assert payer is not None, call.path
            by_tenant.setdefault(payer, set()).add(call.headers["authorization"])
        assert by_tenant == {t: {f"Bearer {k}"} for t, k in expected.items()}
        assert len(fake.invoices) == 3 and fake.errors == []

        # a key Stripe refuses: the run stops needing attention, the key named nowhere
        refused = _gate(services, configured, "umbrella")
        assert refused["status"] == "needs_attention"
        assert "Invalid API Key" in str(refused["reason"]) and WRONG not in str(refused["reason"])

    store = services.store
    for tenant in ("acme", "globex", "initech", "umbrella"):
        texts = [f"{e.message} {e.data}" for e in store.events(f"r-{tenant}")]
        texts += [p.read_text(errors="replace") for p in configured.outbox_dir.glob("*.eml")]
        for key in (*KEYS.values(), SETTING_KEY, WRONG):
            assert not [t for t in texts if key in t], (tenant, key)


def test_stripe_without_any_key_names_the_tenant_and_the_fix(
    settings: Settings, sandbox: Sandbox
) -> None:
    configured = settings.model_copy(
        update={"payments": "stripe", "stripe_api_url": "http://127.0.0.1:9"}
    )
    services = build(configured, sandbox=sandbox)
    services.store.ensure_tenant("acme", "Acme")
    report = _gate(services, configured, "acme")
    assert report["status"] == "needs_attention"
    assert "tenant 'acme'" in str(report["reason"])
    assert "vitco secrets set stripe_api_key" in str(report["reason"])


def test_a_checkout_gate_waits_for_the_paid_session_and_then_delivers(
    settings: Settings, sandbox: Sandbox
) -> None:
    whsec = "whsec_acme_checkout_0123456789"
    with FakeStripe(KEYS["acme"]) as fake:
        configured = settings.model_copy(update={
            "payments": "stripe", "payment_mode": "checkout", "stripe_api_url": fake.url,
            "checkout_success_url": "https://portal.example.com/paid",
        })  # fmt: skip
        services = build(configured, sandbox=sandbox)
        services.store.ensure_tenant("acme", "Acme")
        vault = build_vault(configured, services.store.sessions, build_redactor(configured))
        TenantSecrets(services.store.sessions, vault).set("acme", "stripe_api_key", KEYS["acme"])

        waiting = _gate(services, configured, "acme")
        assert waiting["status"] == "awaiting_approval", waiting["reason"]
        (session,) = fake.sessions.values()
        assert f"{WAITING} of checkout session {session['id']}" in str(waiting["reason"])
        assert fake.invoices == {}  # a checkout page, no invoice
        (billed,) = services.store.artifacts("r-acme", "invoice")
        assert billed.content["mode"] == "checkout"
        assert session["amount_total"] == billed.content["amount_cents"] >= 50
        (mail,) = mails(configured.outbox_dir, kind="invoice")
        assert session["url"] in plain(mail)  # where the client pays
        assert str(mail["Subject"]) == "Payment for Calculator"  # not an invoice
        assert f"to pay on the page below (checkout {session['id']})" in plain(mail)

        # the client pays; Stripe's signed event is verified and read as the webhook does
        event = fake.completed(session["id"])
        delivery = hooks.read("stripe", whsec, event, {"stripe-signature": sign(event, whsec)})
        paid = delivery.action
        assert isinstance(paid, hooks.Payment) and paid.amount == session["amount_total"]
        for _ in range(2):  # Stripe retries: recorded once
            record_payment(services.store, "r-acme", paid.project_id, paid.amount,
                           paid.currency, paid.event)  # fmt: skip
        done = resume(services, "r-acme", model=script(happy_path()), resume={"paid": True})
        assert done.report["status"] == "delivered", done.report["reason"]
        assert len(fake.sessions) == 1 and fake.errors == []
    events = [e.message for e in services.store.events("r-acme") if e.kind == "payment"]
    assert events == [
        f"paid: checkout session {session['id']} ({session['amount_total'] / 100:.2f} USD)"
    ]
