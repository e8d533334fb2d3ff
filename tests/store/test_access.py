"""The tables of vitco serve (migration 0005) and the tenant-scoped queries, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect

from tests.store.test_llm_state import _alembic
from vitco.store import AccessStore, AlreadyExists, NotFound, Store, open_database
from vitco.store.db import open_engine
from vitco.store.models import utcnow

API_TABLES = {"users", "api_keys", "audit_log", "run_jobs"}


def _stores(url: str) -> tuple[Store, AccessStore]:
    sessions = open_database(url)
    return Store(sessions), AccessStore(sessions)


def test_migration_0005_adds_the_tables_and_downgrades_keeping_the_projects(
    database_url: str,
) -> None:
    store, access = _stores(database_url)
    engine = open_engine(database_url)
    project = store.create_project("kept", "/r")
    access.archive_project("default", project.id)
    assert set(inspect(engine).get_table_names()) >= API_TABLES

    _alembic(engine, "downgrade", "0004")
    assert not set(inspect(engine).get_table_names()) & API_TABLES
    columns = {c["name"] for c in inspect(engine).get_columns("projects")}
    assert "archived_at" not in columns and "sandbox_slot" in columns

    _alembic(engine, "upgrade", "head")
    assert set(inspect(engine).get_table_names()) >= API_TABLES
    kept = access.project("default", project.id)
    assert kept.name == "kept" and kept.archived_at is None


def test_a_row_of_another_tenant_is_not_found_like_a_missing_one(database_url: str) -> None:
    store, access = _stores(database_url)
    access.create_tenant("acme", "Acme")
    access.create_tenant("other", "Other")
    mine = store.create_project("mine", "/a", tenant_id="acme")
    theirs = store.create_project("theirs", "/b", tenant_id="other")
    brief = store.create_brief(theirs.id, "b.md", "# b")
    run = store.create_run(theirs.id, brief.id, "m", "deliver-project")
    user = access.create_user("other", "o@example.com", "viewer")

    assert access.project("acme", mine.id).name == "mine"
    for call in (
        lambda: access.project("acme", theirs.id),
        lambda: access.run("acme", run.id),
        lambda: access.get_user("acme", user.id),
        lambda: access.archive_project("acme", theirs.id),
    ):
        with pytest.raises(NotFound):
            call()
    assert [p.id for p in access.projects("acme").items] == [mine.id]
    assert access.runs("acme").items == []
    assert [r.id for r in access.runs("other").items] == [run.id]
    assert access.projects("other", archived=True).items == []


def test_lists_page_with_a_cursor_and_filter(database_url: str) -> None:
    store, access = _stores(database_url)
    created = [store.create_project(f"p{i}", f"/{i}").id for i in range(5)]
    access.archive_project("default", created[0])

    pages = [access.projects("default", limit=3)]
    while pages[-1].after is not None:
        pages.append(access.projects("default", limit=3, after=pages[-1].after))
    assert [len(page.items) for page in pages] == [3, 1]
    assert [p.id for page in pages for p in page.items] == list(reversed(created[1:]))
    assert [p.id for p in access.projects("default", archived=True).items] == [created[0]]
    assert [p.id for p in access.projects("default", name="p3").items] == [created[3]]
    assert access.projects("default", name="%").items == []  # a LIKE wildcard is a letter


def test_keys_are_found_by_prefix_revoked_and_touched(database_url: str) -> None:
    _, access = _stores(database_url)
    access.create_tenant("acme", "Acme")
    user = access.create_user("acme", "a@example.com", "admin", name="Ann")
    with pytest.raises(AlreadyExists):
        access.create_user("acme", "a@example.com", "viewer")
    with pytest.raises(AlreadyExists):
        access.create_tenant("acme", "again")
    expires = utcnow() + timedelta(days=1)
    key = access.add_key(
        "acme", prefix="abc123", hashed="h", role="admin", user_id=user.id, expires_at=expires
    )
    found = access.key_by_prefix("abc123")
    assert found is not None and found.id == key.id and found.expires_at == expires
    assert access.key_by_prefix("nope") is None

    access.touch_key(key.id, expires)
    assert access.get_key("acme", key.id).last_used_at == expires
    revoked = access.revoke_key("acme", key.id)
    assert revoked.revoked_at is not None
    assert access.revoke_key("acme", key.id).revoked_at == revoked.revoked_at
    with pytest.raises(NotFound):
        access.revoke_key("default", key.id)
    with pytest.raises(NotFound):  # a user of another tenant cannot own a key here
        access.add_key("default", prefix="x", hashed="h", role="viewer", user_id=user.id)


def test_events_page_by_sequence_and_filter(database_url: str) -> None:
    store, access = _stores(database_url)
    project = store.create_project("p", "/p")
    brief = store.create_brief(project.id, "b.md", "# b")
    run = store.create_run(project.id, brief.id, "m", "deliver-project")
    for i in range(5):
        store.add_event(run.id, "step" if i % 2 else "run", f"e{i}", step=f"s{i}")

    page = access.events(run.id, limit=2)
    assert [e.message for e in page.items] == ["e0", "e1"] and page.after is not None
    rest = access.events(run.id, since=int(page.after[1]))
    assert [e.message for e in rest.items] == ["e2", "e3", "e4"] and rest.after is None
    assert [e.message for e in access.events(run.id, kinds=["step"]).items] == ["e1", "e3"]
    assert [e.message for e in access.events(run.id, step="s4").items] == ["e4"]


def test_the_audit_log_is_per_tenant_newest_first(database_url: str) -> None:
    _, access = _stores(database_url)
    access.create_tenant("acme", "Acme")
    for status in (201, 403):
        access.audit(
            tenant_id="acme", key_id="k-1", method="POST", path="/v1/projects",
            action="projects:create", status=status, request_id=f"q{status}",
        )  # fmt: skip
    entries = access.audit_entries("acme").items
    assert [e.status for e in entries] == [403, 201]
    assert access.audit_entries("default").items == []
