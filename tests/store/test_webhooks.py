"""The webhook tables (migration 0007) and their queries, on SQLite and PostgreSQL: secrets
sealed, a delivery id claimed once, events dispatched once per subscription and tenant (and,
on PostgreSQL, none skipped when they commit out of order), due deliveries taken by one
caller, attempts recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import inspect, select

from tests.store.test_llm_state import _alembic
from vitco.integrations.webhooks.outbound import Outbound
from vitco.secrets import MasterKey, Vault
from vitco.store import AccessStore, Store, open_database
from vitco.store.db import open_engine
from vitco.store.models import Event, utcnow
from vitco.store.webhook_models import HookSecret
from vitco.store.webhooks import WebhookStore

TABLES = {"hook_secrets", "hook_deliveries", "webhooks", "webhook_deliveries", "webhook_attempts"}


def _stores(url: str) -> tuple[Store, WebhookStore]:
    sessions = open_database(url)
    access = AccessStore(sessions)
    access.create_tenant("acme", "Acme")
    access.create_tenant("other", "Other")
    master = MasterKey.generate()
    return Store(sessions), WebhookStore(sessions, Vault.over(sessions, lambda: master))


def _run(store: Store, tenant: str) -> str:
    project = store.create_project("p", "/r", tenant_id=tenant)
    brief = store.create_brief(project.id, "b.md", "# p")
    return store.create_run(project.id, brief.id, "m", "deliver-project").id


def test_migration_0007_adds_the_tables_and_downgrades(database_url: str) -> None:
    _stores(database_url)
    engine = open_engine(database_url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    _alembic(engine, "downgrade", "0006")
    assert not set(inspect(engine).get_table_names()) & TABLES
    _alembic(engine, "upgrade", "head")
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_secrets_are_sealed_per_tenant_and_source(database_url: str) -> None:
    _, hooks = _stores(database_url)
    hooks.set_secret("acme", "github", "gh-secret")
    hooks.set_secret("acme", "github", "rotated")
    assert hooks.secret("acme", "github") == "rotated"
    assert hooks.secret("other", "github") is None and hooks.secret("acme", "stripe") is None
    with hooks.sessions() as s:
        sealed = s.scalars(select(HookSecret.secret)).one()
    assert sealed.startswith("v1:") and "rotated" not in sealed  # AES-256-GCM at rest
    assert [row.source for row in hooks.sources("acme")] == ["github"]
    assert hooks.sources("other") == []


def test_a_delivery_id_is_claimed_once(database_url: str) -> None:
    _, hooks = _stores(database_url)
    first = hooks.claim("acme", "generic", "d-1", "brief")
    assert first.state == "new" and first.delivery.project_id and first.delivery.run_id
    assert hooks.claim("acme", "generic", "d-1", "brief").state == "busy"  # being accepted
    assert hooks.claim("other", "generic", "d-1", "brief").state == "new"  # its own ids
    hooks.finish(first.delivery.id, "accepted", project_id="p-x", run_id=None)
    replay = hooks.claim("acme", "generic", "d-1", "brief")
    assert replay.state == "done" and replay.delivery.project_id == "p-x"
    # an earlier try that died: the lease over, a redelivery takes it again with its ids
    stale = hooks.claim("acme", "github", "d-2", "issues.labeled")
    again = hooks.claim("acme", "github", "d-2", "issues.labeled", lease=timedelta(0))
    assert again.state == "retry" and again.delivery.run_id == stale.delivery.run_id


def test_events_become_deliveries_once_per_subscription_of_the_tenant(database_url: str) -> None:
    store, hooks = _stores(database_url)
    mine, theirs = _run(store, "acme"), _run(store, "other")
    store.add_event(mine, "run", "before the subscription")
    every = hooks.add_webhook("acme", "https://example.com/a", ["*"], "s1")
    deploys = hooks.add_webhook("acme", "https://example.com/b", ["deploy"], "s2")
    store.add_event(mine, "run", "started")
    store.add_event(theirs, "deploy", "another tenant's")
    store.add_event(mine, "deploy", "live")
    assert hooks.dispatch() == 3 and hooks.dispatch() == 0
    sent = hooks.deliveries("acme", every.id).items
    assert [d.payload["message"] for d in sent] == ["live", "started"]  # newest first
    assert sent[0].payload["run_id"] == mine and sent[0].payload["tenant_id"] == "acme"
    assert [d.event_type for d in hooks.deliveries("acme", deploys.id).items] == ["deploy"]
    assert hooks.signing_secret(every.id) == "s1"


def test_due_deliveries_are_taken_once_and_attempts_recorded(database_url: str) -> None:
    store, hooks = _stores(database_url)
    run = _run(store, "acme")
    hook = hooks.add_webhook("acme", "https://example.com/a", ["*"], "s")
    store.add_event(run, "run", "one")
    hooks.dispatch()
    lease = timedelta(minutes=5)
    taken = hooks.claim_due(10, lease=lease)
    assert len(taken) == 1 and hooks.claim_due(10, lease=lease) == []
    soon = datetime.now(UTC) + timedelta(hours=1)
    row = hooks.record(taken[0].id, at=datetime.now(UTC), duration_s=0.1, status_code=500,
                       error="answered HTTP 500", retry_at=soon)  # fmt: skip
    assert row.status == "pending" and row.attempts == 1
    assert hooks.claim_due(10, lease=lease) == []  # not due yet
    row = hooks.record(row.id, at=datetime.now(UTC), duration_s=0.1, status_code=200,
                       error=None, retry_at=None)  # fmt: skip
    assert row.status == "succeeded"
    tries = hooks.attempts([row.id])[row.id]
    assert [(a.number, a.status_code) for a in tries] == [(1, 500), (2, 200)]
    hooks.delete_webhook("acme", hook.id)
    store.add_event(run, "run", "after")
    assert hooks.dispatch() == 0


def test_an_event_committed_late_is_dispatched_not_skipped(postgres_url: str) -> None:
    # PostgreSQL hands out ids at insert: an event may commit after one with a higher id. The
    # pump dispatches up to the feed's contiguous horizon only, so a subscription's cursor
    # never moves past an event that has not committed yet.
    store, hooks = _stores(postgres_url)
    run = _run(store, "acme")
    hook = hooks.add_webhook("acme", "https://example.com/a", ["*"], "s")
    clock = [0.0]
    pump = Outbound(hooks, httpx.Client(), gap_s=5.0, gap_clock=lambda: clock[0])
    with store.sessions() as slow:  # takes its number, commits later
        slow.add(Event(run_id=run, ts=utcnow(), kind="step", message="slow"))
        slow.flush()
        store.add_event(run, "step", "fast")  # committed at once, a higher id
        pump.pump()
        assert hooks.deliveries("acme", hook.id).items == []  # held back by the gap
        slow.commit()
    pump.pump()
    sent = hooks.deliveries("acme", hook.id).items
    assert [d.payload["message"] for d in sent] == ["fast", "slow"]  # newest first: both


def test_a_rolled_back_number_holds_the_pump_back_only_until_its_gap_expires(
    postgres_url: str,
) -> None:
    store, hooks = _stores(postgres_url)
    run = _run(store, "acme")
    hook = hooks.add_webhook("acme", "https://example.com/a", ["*"], "s")
    clock = [0.0]
    pump = Outbound(hooks, httpx.Client(), gap_s=5.0, gap_clock=lambda: clock[0])
    with store.sessions() as lost:
        lost.add(Event(run_id=run, ts=utcnow(), kind="step", message="lost"))
        lost.flush()
        store.add_event(run, "step", "kept")
        lost.rollback()
    pump.pump()
    assert hooks.deliveries("acme", hook.id).items == []
    clock[0] += 5.0
    pump.pump()
    assert [d.payload["message"] for d in hooks.deliveries("acme", hook.id).items] == ["kept"]
