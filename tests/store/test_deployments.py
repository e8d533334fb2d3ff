"""The deployments table (migration 0008) and its queries, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from tests.store.test_llm_state import _alembic
from vitco.store import AccessStore, AmbiguousId, NotFound, Store, open_database
from vitco.store.db import open_engine
from vitco.store.deployments import DeploymentStore


def _setup(url: str) -> tuple[Store, DeploymentStore]:
    sessions = open_database(url)
    access = AccessStore(sessions)
    access.create_tenant("acme", "Acme")
    access.create_tenant("other", "Other")
    return Store(sessions), DeploymentStore(sessions)


def _run(store: Store, tenant: str, name: str) -> tuple[str, str]:
    project = store.create_project(name, f"/{name}", tenant_id=tenant)
    brief = store.create_brief(project.id, "b.md", "# b")
    return project.id, store.create_run(project.id, brief.id, "m", "deliver-project").id


def test_a_project_has_one_deployment_whose_port_and_id_outlive_new_deploys(
    database_url: str,
) -> None:
    store, rows = _setup(database_url)
    project, first = _run(store, "acme", "a")
    made = rows.save(project, first, port=20001, root="/a", toolchain="python-service", plan={})
    assert (made.tenant_id, made.url, made.status) == ("acme", "http://127.0.0.1:20001", "starting")
    rows.update(made.id, status="running", restarts=3, last_error="boom", pid=42)
    assert rows.request_stop(made.id).status == "stopped"
    assert rows.wanted() == []

    second = store.create_run(project, store.create_brief(project, "c.md", "# c").id, "m", "x").id
    again = rows.save(project, second, port=29999, root="/b", toolchain="node-service", plan=None)
    assert (again.id, again.port, again.run_id, again.root) == (made.id, 20001, second, "/b")
    assert (again.stopped_at, again.restarts, again.last_error, again.status) == (
        None, 0, None, "starting",
    )  # fmt: skip
    assert [r.id for r in rows.wanted()] == [made.id]
    assert rows.ports() == {20001}
    assert rows.for_project(project) is not None and rows.for_project("p-none") is None


def test_reads_are_scoped_to_a_tenant_and_ids_found_by_prefix(database_url: str) -> None:
    store, rows = _setup(database_url)
    mine = rows.save(*_run(store, "acme", "a"), port=20001, root="/a", toolchain="t", plan=None)
    theirs = rows.save(*_run(store, "other", "b"), port=20002, root="/b", toolchain="t", plan=None)

    assert rows.scoped("acme", mine.id).id == mine.id
    with pytest.raises(NotFound):
        rows.scoped("acme", theirs.id)
    assert [r.id for r in rows.page("acme").items] == [mine.id]
    assert rows.page("acme", status="stopped").items == []
    assert [r.id for r in rows.page("other", project_id=theirs.project_id).items] == [theirs.id]

    assert rows.find(mine.id).id == mine.id
    assert rows.find(mine.project_id).id == mine.id
    unique = next(mine.id[:n] for n in range(3, 20) if not theirs.id.startswith(mine.id[:n]))
    assert rows.find(unique).id == mine.id
    with pytest.raises(AmbiguousId):
        rows.find("d-")
    with pytest.raises(NotFound):
        rows.find("d-%")  # a LIKE wildcard is a character, not a pattern
    with pytest.raises(NotFound):
        rows.request_stop("d-missing")
    assert [r.id for r in rows.all()] == [theirs.id, mine.id]


def test_migration_0008_adds_the_table_and_downgrades(database_url: str) -> None:
    store, rows = _setup(database_url)
    rows.save(*_run(store, "acme", "a"), port=20001, root="/a", toolchain="t", plan=None)
    engine = open_engine(database_url)
    _alembic(engine, "downgrade", "0007")
    assert "deployments" not in inspect(engine).get_table_names()
    _alembic(engine, "upgrade", "head")
    assert "deployments" in inspect(engine).get_table_names()
    assert rows.all() == []
