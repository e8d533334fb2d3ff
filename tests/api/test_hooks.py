"""Inbound webhooks over real HTTP: each source's signature scheme (good, bad, missing, too
old), nothing stored on a 401, a replayed delivery id accepted once, and an accepted
delivery's project and run committed before the answer. The worker is stopped so that
queued runs stay queued (the queue itself is checked)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from standardwebhooks import Webhook as Reference

from tests.api.conftest import MakeServer
from tests.api.server import Server
from vitco.api.hooks import github_delivery_id
from vitco.jobs.queue import StoreRunQueue
from vitco.store.models import Project, Run, RunJob
from vitco.store.webhook_models import HookDelivery

BRIEF = "# Todo API\n\nA small REST service for todo items.\n"


@pytest.fixture
def idle(make_server: MakeServer) -> Server:
    server = make_server()
    server.app.state.vitco.runs.close()  # runs stay queued
    return server


def _counts(server: Server) -> tuple[int, int, int]:
    with server.app.state.vitco.store.sessions() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(t)) for t in (HookDelivery, Project, Run)
        )


def _secret(server: Server, source: str, secret: str | None = None) -> str:
    admin = server.client(server.key("acme", "admin"))
    answer = admin.put(f"/v1/hooks/{source}/secret", json={"secret": secret} if secret else None)
    assert answer.status_code == 200, answer.text
    assert answer.json()["path"] == f"/v1/hooks/{source}?tenant=acme"
    return secret or str(answer.json()["secret"])


def _generic(secret: str, body: bytes, msg_id: str, when: datetime | None = None) -> dict:  # type: ignore[type-arg]
    when = when or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Reference(secret).sign(msg_id, when, body),
        "content-type": "application/json",
    }


def _post(
    server: Server, source: str, body: bytes, headers: dict[str, str], tenant: str = "acme"
) -> Any:
    return server.client().post(
        f"/v1/hooks/{source}", params={"tenant": tenant}, content=body, headers=headers
    )


def test_generic_brief_becomes_a_project_and_a_queued_run_once(idle: Server) -> None:
    secret = _secret(idle, "generic")
    assert secret.startswith("whsec_")
    body = json.dumps({"brief": BRIEF, "budget_usd": 2}).encode()
    headers = _generic(secret, body, "msg-1")
    answer = _post(idle, "generic", body, headers)
    assert answer.status_code == 202, answer.text
    made = answer.json()
    assert made["status"] == "accepted" and not made["duplicate"]

    # durable before the answer: the rows are there, read in a new session
    store, ctx = idle.app.state.vitco.store, idle.app.state.vitco
    project = ctx.access.project("acme", made["project_id"])
    assert project.name == "Todo API" and project.budget_usd == 2
    run = store.get_run(made["run_id"])
    assert run.project_id == project.id and run.status == "queued"
    with store.sessions() as s:
        assert s.scalars(select(RunJob.action).where(RunJob.run_id == run.id)).all() == ["start"]
        row = s.scalars(select(HookDelivery)).one()
    assert (row.status, row.delivery_id, row.project_id) == ("accepted", "msg-1", project.id)

    before = _counts(idle)
    replay = _post(idle, "generic", body, headers)  # the same delivery, again
    assert replay.status_code == 200 and replay.json() | {"duplicate": False} == made
    assert replay.json()["duplicate"] is True and _counts(idle) == before

    admin = idle.client(idle.key("acme", "admin"))
    listed = admin.get("/v1/hooks/deliveries").json()["items"]
    assert [(d["delivery_id"], d["run_id"]) for d in listed] == [("msg-1", run.id)]


def test_a_brief_accepted_at_once_leaves_nothing_when_it_fails_before_its_commit(
    idle: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delivery's row, project, brief, run and job are one transaction: a failure at its
    last write (the job) leaves none of them, and the sender's redelivery makes them all."""
    secret = _secret(idle, "generic")
    body = json.dumps({"brief": BRIEF}).encode()
    headers = _generic(secret, body, "msg-1")

    def down(*args: Any, **kwargs: Any) -> None:
        raise OSError("the disk went away")

    with monkeypatch.context() as patched:
        patched.setattr(StoreRunQueue, "enqueue_all_in", down)
        assert _post(idle, "generic", body, headers).status_code == 500
    assert _counts(idle) == (0, 0, 0)
    with idle.app.state.vitco.store.sessions() as s:
        assert s.scalar(select(func.count()).select_from(RunJob)) == 0

    again = _post(idle, "generic", body, headers)
    assert again.status_code == 202 and again.json()["duplicate"] is False
    assert _counts(idle) == (1, 1, 1)


def test_a_delivery_claimed_by_an_earlier_try_goes_the_claims_way(idle: Server) -> None:
    """A delivery id whose earlier try died after its claim (the two-step path: a Redis
    queue, a crash) is not made again at once: busy while the claim's lease lasts."""
    secret = _secret(idle, "generic")
    body = json.dumps({"brief": BRIEF}).encode()
    idle.app.state.vitco.hooks.claim("acme", "generic", "msg-1", "brief")
    answer = _post(idle, "generic", body, _generic(secret, body, "msg-1"))
    assert answer.status_code == 409, answer.text
    assert _counts(idle) == (1, 0, 0)


def test_generic_refuses_bad_missing_stale_and_moved_signatures_storing_nothing(
    idle: Server,
) -> None:
    secret = _secret(idle, "generic")
    body = json.dumps({"brief": BRIEF}).encode()
    good = _generic(secret, body, "msg-1")
    stale = _generic(secret, body, "msg-1", datetime.fromtimestamp(time.time() - 600, UTC))
    cases = {
        "wrong secret": _generic("whsec_" + "A" * 32, body, "msg-1"),
        "missing": {"content-type": "application/json"},
        "too old": stale,
        "another id": good | {"webhook-id": "msg-2"},
        "another body": good,
    }
    for name, headers in cases.items():
        sent = body + b" " if name == "another body" else body
        answer = _post(idle, "generic", sent, headers)
        assert answer.status_code == 401, (name, answer.text)
        assert answer.json()["error"]["code"] == "unauthorized"
    # an unknown tenant and one without a secret for the source answer exactly the same
    assert (
        _post(idle, "generic", body, good, tenant="nobody").json()
        == _post(idle, "generic", body, good, tenant="nobody2").json()
    )
    assert _post(idle, "stripe", body, good).status_code == 401  # no stripe secret
    assert _counts(idle) == (0, 0, 0)


def test_a_signed_but_invalid_payload_is_422_with_its_field(idle: Server) -> None:
    secret = _secret(idle, "generic")
    body = json.dumps({"brief": ""}).encode()
    answer = _post(idle, "generic", body, _generic(secret, body, "msg-1"))
    assert answer.status_code == 422
    assert [d["path"] for d in answer.json()["error"]["details"]] == ["body.brief"]
    assert _counts(idle) == (0, 0, 0)


def _github(secret: str, body: bytes, event: str, delivery: str) -> dict[str, str]:
    mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={mac}", "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery, "Content-Type": "application/json"}  # fmt: skip


def _issue(number: int, action: str = "labeled", label: str = "vitco") -> bytes:
    return json.dumps({
        "action": action,
        "label": {"name": label},
        "issue": {"number": number, "title": f"Issue {number}: a todo API", "body": "Please.",
                  "html_url": f"https://github.com/acme/todo/issues/{number}",
                  "labels": [{"name": label}]},
        "repository": {"full_name": "acme/todo"},
    }).encode()  # fmt: skip


def test_github_issue_labelled_vitco_makes_a_project_then_fix_bug_runs(idle: Server) -> None:
    secret = _secret(idle, "github", "a-github-secret-of-mine")
    store, access = idle.app.state.vitco.store, idle.app.state.vitco.access

    ping = b'{"zen": "Keep it logically awesome."}'
    answer = _post(idle, "github", ping, _github(secret, ping, "ping", "g-0"))
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    other = _issue(1, label="question")
    answer = _post(idle, "github", other, _github(secret, other, "issues", "g-1"))
    assert answer.json()["status"] == "ignored" and answer.json()["project_id"] is None

    first = _issue(2)
    made = _post(idle, "github", first, _github(secret, first, "issues", "g-2"))
    assert made.status_code == 202, made.text
    assert made.json()["delivery_id"] == github_delivery_id(first)
    project_id, run_id = made.json()["project_id"], made.json()["run_id"]
    assert access.project("acme", project_id).name == "Issue 2: a todo API"
    assert store.get_run(run_id).workflow == "deliver-project"
    brief = access.latest_brief(project_id).text
    assert "https://github.com/acme/todo/issues/2" in brief

    bug = _issue(3)
    busy = _post(idle, "github", bug, _github(secret, bug, "issues", "g-3"))
    assert busy.status_code == 409  # the project's run is going: refused, redeliverable
    store.update_run(run_id, status="delivered")
    fixed = _post(idle, "github", bug, _github(secret, bug, "issues", "g-3"))  # redelivered
    assert fixed.status_code == 202, fixed.text
    assert fixed.json()["project_id"] == project_id
    fix = store.get_run(fixed.json()["run_id"])
    assert fix.workflow == "fix-bug" and fix.status == "queued"
    assert "Issue 3" in access.latest_brief(project_id).text

    # a captured delivery sent again under a new (unsigned) delivery id acts once
    replayed = _post(idle, "github", first, _github(secret, first, "issues", "g-forged"))
    assert replayed.status_code == 200 and replayed.json()["duplicate"] is True
    assert replayed.json()["project_id"] == project_id
    assert len(access.runs("acme", project_id=project_id).items) == 2  # the first and the fix

    forged = _github("not-the-secret", bug, "issues", "g-4")
    assert _post(idle, "github", bug, forged).status_code == 401
    unsigned = {k: v for k, v in forged.items() if k != "X-Hub-Signature-256"}
    assert _post(idle, "github", bug, unsigned).status_code == 401
    with store.sessions() as s:
        ids = s.scalars(select(HookDelivery.delivery_id).order_by(HookDelivery.id)).all()
    hashed = [github_delivery_id(body) for body in (ping, other, first, bug)]
    assert ids == hashed  # nothing of the refused ones


def _stripe(secret: str, body: bytes, t: int | None = None) -> dict[str, str]:
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={t},v1={mac}", "Content-Type": "application/json"}


def test_stripe_payment_recorded_once_stale_and_bad_refused(idle: Server) -> None:
    secret = _secret(idle, "stripe", "whsec_stripe_test_secret")
    store = idle.app.state.vitco.store
    project = store.create_project("paid", "/nowhere", tenant_id="acme")
    brief = store.create_brief(project.id, "b.md", "# paid")
    run = store.create_run(project.id, brief.id, "m", "deliver-project")
    paid = json.dumps({
        "id": "evt_1", "type": "checkout.session.completed",
        "data": {"object": {"amount_total": 12000, "currency": "eur",
                            "metadata": {"vitco_project_id": project.id}}},
    }).encode()  # fmt: skip

    stale = _stripe(secret, paid, int(time.time()) - 301)
    assert _post(idle, "stripe", paid, stale).status_code == 401
    assert _post(idle, "stripe", paid, _stripe("whsec_wrong", paid)).status_code == 401
    assert _post(idle, "stripe", paid, {"Content-Type": "application/json"}).status_code == 401
    assert _counts(idle)[0] == 0

    answer = _post(idle, "stripe", paid, _stripe(secret, paid))
    assert answer.status_code == 202, answer.text
    assert answer.json()["project_id"] == project.id and "120.00 EUR" in answer.json()["detail"]
    replay = _post(idle, "stripe", paid, _stripe(secret, paid))  # signed anew, same event id
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    payments = [e for e in store.events(run.id) if e.kind == "payment"]
    assert [e.data for e in payments] == [{"amount": 12000, "currency": "eur"}]

    other = json.dumps({"id": "evt_2", "type": "customer.created",
                        "data": {"object": {}}}).encode()  # fmt: skip
    assert _post(idle, "stripe", other, _stripe(secret, other)).json()["status"] == "ignored"


def test_secrets_are_the_tenants_own_and_never_shown_again(idle: Server) -> None:
    _secret(idle, "github", "a-github-secret-of-mine")
    admin = idle.client(idle.key("acme", "admin"))
    listed = admin.get("/v1/hooks").json()["items"]
    assert [s["source"] for s in listed] == ["github"] and "secret" not in listed[0]
    other = idle.client(idle.key("other", "admin"))
    assert other.get("/v1/hooks").json()["items"] == []
    assert other.get("/v1/hooks/deliveries").json()["items"] == []
    assert admin.delete("/v1/hooks/github/secret").json()["source"] == "github"
    assert admin.get("/v1/hooks").json()["items"] == []
    body = _issue(1)
    signed = _github("a-github-secret-of-mine", body, "issues", "x")
    assert _post(idle, "github", body, signed).status_code == 401
