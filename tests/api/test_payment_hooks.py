"""The Stripe webhook and the payment gate, attacked: only a verified event of the project's
own tenant records its payment and moves its waiting run on, once; a run waiting at another
gate is never opened by a payment; another tenant's event (signed with its own secret) cannot
reach the project."""

from __future__ import annotations

import json
from typing import Any

import stripe

from tests.api.server import Server
from tests.api.test_hooks import _post, _secret, _stripe, idle  # noqa: F401 (fixture)
from tests.fakes.stripe_server import FakeStripe
from vitco.integrations.payments import InvoiceRequest, quote
from vitco.integrations.payments.stripe import StripePayments
from vitco.store.models import RunJob
from vitco.workflow.payment_steps import WAITING, payment_key


def _paid(event_id: str, project_id: str, amount: int = 5000) -> bytes:
    return json.dumps({
        "id": event_id, "type": "invoice.paid",
        "data": {"object": {"object": "invoice", "amount_paid": amount, "currency": "usd",
                            "metadata": {"vitco_project_id": project_id}}},
    }).encode()  # fmt: skip


def _jobs(server: Server, run_id: str) -> list[Any]:
    with server.app.state.vitco.store.sessions() as s:
        return list(s.query(RunJob).filter(RunJob.run_id == run_id))


def test_a_payment_moves_only_its_own_waiting_run_once(idle: Server) -> None:  # noqa: F811
    store = idle.app.state.vitco.store
    secret = _secret(idle, "stripe", "whsec_acme_payments")
    project = store.create_project("paid", "/nowhere", tenant_id="acme")
    brief = store.create_brief(project.id, "b.md", "# paid")
    run = store.create_run(project.id, brief.id, "m", "deliver-paid-project")
    store.update_run(run.id, status="awaiting_approval", reason=f"{WAITING} of invoice in_1")

    # another tenant, with a valid secret of its own, names acme's project: nothing happens
    if "evil" not in {t.id for t in idle.access.tenants()}:
        idle.access.create_tenant("evil", "Evil")
    evil_admin = idle.client(idle.key("evil", "admin"))
    evil = "whsec_evil_tenant_secret_0123"
    assert evil_admin.put("/v1/hooks/stripe/secret", json={"secret": evil}).is_success
    forged = _paid("evt_evil", project.id)
    answer = _post(idle, "stripe", forged, _stripe(evil, forged), tenant="evil")
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    assert store.get_effect(payment_key(project.id)) is None
    assert store.get_run(run.id).status == "awaiting_approval" and _jobs(idle, run.id) == []

    # acme's own signed event: recorded once, the waiting run queued with the answer
    event = _paid("evt_1", project.id)
    answer = _post(idle, "stripe", event, _stripe(secret, event))
    assert answer.status_code == 202 and "goes on" in answer.json()["detail"]
    assert store.get_effect(payment_key(project.id))["amount"] == 5000
    assert store.get_run(run.id).status == "queued"
    (job,) = _jobs(idle, run.id)
    assert job.action == "answer" and job.payload["paid"] is True

    # a second event for the project (another id) changes nothing recorded, queues nothing
    again = _paid("evt_2", project.id, amount=1)
    assert _post(idle, "stripe", again, _stripe(secret, again)).status_code == 202
    assert store.get_effect(payment_key(project.id))["amount"] == 5000
    assert len(_jobs(idle, run.id)) == 1


def test_a_payment_never_opens_an_approval_gate(idle: Server) -> None:  # noqa: F811
    store = idle.app.state.vitco.store
    secret = _secret(idle, "stripe", "whsec_acme_payments")
    project = store.create_project("gated", "/nowhere", tenant_id="acme")
    brief = store.create_brief(project.id, "b.md", "# gated")
    run = store.create_run(project.id, brief.id, "m", "deliver-project")
    store.update_run(run.id, status="awaiting_approval", reason="Approve the result of plan?")
    event = _paid("evt_gate", project.id)
    answer = _post(idle, "stripe", event, _stripe(secret, event))
    assert answer.status_code == 202 and "goes on" not in answer.json()["detail"]
    assert store.get_run(run.id).status == "awaiting_approval" and _jobs(idle, run.id) == []


def _checkout(event_id: str, project_id: str, amount: int, payment_status: str = "paid") -> bytes:
    """A ``checkout.session.completed`` event of a session made through the Stripe adapter
    on the fake Stripe, as Stripe would send it once the client paid."""
    key = "sk_test_hooks_0123456789"
    with FakeStripe(key) as fake:
        client = stripe.StripeClient(key, base_addresses={"api": fake.url}, max_network_retries=0)
        q = quote(spent_usd=0.0, points=0, usd_per_point=0.0, margin=0.0, minimum_cents=amount)
        request = InvoiceRequest(
            key=f"vitco/{project_id}/invoice", project_id=project_id, tenant_id="acme",
            customer_email="grace@example.com", description="checkout", quote=q,
        )  # fmt: skip
        made = StripePayments(client, success_url="https://portal.example.com/paid").checkout(
            request
        )
        event = json.loads(fake.completed(made.id, payment_status))
    event["id"] = event_id
    return json.dumps(event).encode()


def test_a_completed_checkout_moves_its_waiting_run_once_and_only_when_paid(
    idle: Server,  # noqa: F811
) -> None:
    store = idle.app.state.vitco.store
    secret = _secret(idle, "stripe", "whsec_acme_payments")
    project = store.create_project("checkout", "/nowhere", tenant_id="acme")
    brief = store.create_brief(project.id, "b.md", "# checkout")
    run = store.create_run(project.id, brief.id, "m", "deliver-paid-project")
    waiting = f"{WAITING} of checkout session cs_1"
    store.update_run(run.id, status="awaiting_approval", reason=waiting)

    # completed with a delayed method: the money is not there, nothing moves
    later = _checkout("evt_unpaid", project.id, 4200, payment_status="unpaid")
    answer = _post(idle, "stripe", later, _stripe(secret, later))
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    assert "not there yet" in answer.json()["detail"]
    assert store.get_effect(payment_key(project.id)) is None and _jobs(idle, run.id) == []

    # a forged signature: 401, nothing recorded
    paid = _checkout("evt_paid", project.id, 4200)
    forged = _post(idle, "stripe", paid, _stripe("whsec_not_acmes_secret", paid))
    assert forged.status_code == 401 and store.get_effect(payment_key(project.id)) is None

    # paid: recorded with the session's amount_total, the run queued with the answer
    answer = _post(idle, "stripe", paid, _stripe(secret, paid))
    assert answer.status_code == 202 and "goes on" in answer.json()["detail"]
    assert store.get_effect(payment_key(project.id))["amount"] == 4200
    (job,) = _jobs(idle, run.id)
    assert job.action == "answer" and job.payload["paid"] is True

    # Stripe retries the same event: a duplicate, nothing queued again
    again = _post(idle, "stripe", paid, _stripe(secret, paid))
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert len(_jobs(idle, run.id)) == 1
