"""The Stripe webhook and the payment gate, attacked: only a verified event of the project's
own tenant records its payment and moves its waiting run on, once; a run waiting at another
gate is never opened by a payment; another tenant's event (signed with its own secret) cannot
reach the project."""

from __future__ import annotations

import json
from typing import Any

from tests.api.server import Server
from tests.api.test_hooks import _post, _secret, _stripe, idle  # noqa: F401 (fixture)
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
