"""The store on real SQLite and PostgreSQL: migrations on first use, CRUD, the ledger, effects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from tests.store.statements import sent
from vitco.store import FenceRefused, NotFound, Store, open_database
from vitco.store.db import MIGRATIONS, create, migrate
from vitco.store.models import Base, ModelCall

TABLES = {
    "tenants",
    "projects",
    "briefs",
    "runs",
    "tasks",
    "events",
    "model_calls",
    "artifacts",
    "effects",
    "llm_response_cache",
    "llm_breakers",
}


def _head_revision() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


@pytest.fixture
def store(database_url: str) -> Store:
    """The store on SQLite and on PostgreSQL: one conformance suite for both."""
    return Store(open_database(database_url))


@pytest.fixture
def run_ids(store: Store, tmp_path: Path) -> tuple[str, str]:
    """(project id, run id) of a fresh run."""
    project = store.create_project("todo", str(tmp_path / "repo"), client="Ada <ada@example.com>")
    brief = store.create_brief(project.id, "cli", "A todo API.")
    run = store.create_run(project.id, brief.id, "test", "deliver-project")
    return project.id, run.id


def _call(project_id: str, run_id: str, **overrides: Any) -> ModelCall:
    fields: dict[str, Any] = {
        "run_id": run_id,
        "project_id": project_id,
        "call_key": "developer/implement/T1#1",
        "role": "developer",
        "step": "implement",
        "task": "T1",
        "model": "test:schema",
        "fingerprint": "f" * 64,
        "input_tokens": 10,
        "output_tokens": 5,
        "cost_usd": 0.25,
        "response": '{"ok": true}',
    }
    fields.update(overrides)
    return ModelCall(**fields)


# migrations ---------------------------------------------------------------------------------


def test_first_use_of_a_fresh_file_migrates_to_head(tmp_path: Path) -> None:
    db_file = tmp_path / "nested" / "dir" / "vitco.sqlite"
    url = f"sqlite:///{db_file}"

    sessions = open_database(url)

    assert db_file.is_file()
    engine = sessions.kw["bind"]
    assert set(inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert versions == [_head_revision()]


def test_migrated_schema_matches_the_models(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'v.sqlite'}").kw["bind"]
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name


def test_opening_twice_and_migrating_again_keeps_the_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vitco.sqlite'}"
    first = Store(open_database(url))
    project = first.create_project("p", "/tmp/p")

    second = Store(open_database(url))
    migrate(create(url))  # a second process would run the upgrade again: a no-op at head

    assert second.get_project(project.id).name == "p"
    with create(url).connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert versions == [_head_revision()]


# projects, briefs, runs ---------------------------------------------------------------------


def test_projects_and_briefs_round_trip(store: Store) -> None:
    project = store.create_project("todo", "/repos/todo", project_id="p-fixed", client="Ada")
    brief = store.create_brief(project.id, "mail", "Build a todo API.")

    loaded = store.get_project("p-fixed")
    assert (loaded.name, loaded.repo_path, loaded.client, loaded.tenant_id) == (
        "todo",
        "/repos/todo",
        "Ada",
        "default",
    )
    assert [p.id for p in store.projects()] == ["p-fixed"]
    assert store.get_brief(brief.id).text == "Build a todo API."

    store.set_budget("p-fixed", 2.5)
    assert store.get_project("p-fixed").budget_usd == 2.5


def test_runs_are_listed_per_project(store: Store) -> None:
    a = store.create_project("a", "/a")
    b = store.create_project("b", "/b")
    run_a = store.create_run(a.id, store.create_brief(a.id, "cli", "x").id, "m", "w")
    run_b = store.create_run(b.id, store.create_brief(b.id, "cli", "y").id, "m", "w")

    assert [r.id for r in store.runs(a.id)] == [run_a.id]
    assert {r.id for r in store.runs()} == {run_a.id, run_b.id}
    assert store.get_run(run_a.id).status == "queued"


def test_update_run_stamps_start_and_finish(store: Store, run_ids: tuple[str, str]) -> None:
    _, run_id = run_ids
    assert store.get_run(run_id).started_at is None

    store.update_run(run_id, status="running")
    running = store.get_run(run_id)
    assert running.started_at is not None
    assert running.finished_at is None

    store.update_run(run_id, status="running")
    # a resumed run keeps its first start
    assert store.get_run(run_id).started_at == running.started_at

    done = store.update_run(run_id, status="delivered", url="http://127.0.0.1:1")
    assert done.finished_at is not None
    loaded = store.get_run(run_id)
    assert (loaded.status, loaded.url) == ("delivered", "http://127.0.0.1:1")
    assert loaded.finished_at is not None


def test_mark_run_changes_and_says_without_reading_the_run_back(
    store: Store, run_ids: tuple[str, str]
) -> None:
    _, run_id = run_ids
    with sent(store.engine) as said:
        told = store.mark_run(run_id, ("run", "it started"), status="running")
    assert told is not None and (told.kind, told.message, told.run_id) == (
        "run",
        "it started",
        run_id,
    )
    assert [e.id for e in store.events(run_id)] == [told.id]
    run = store.get_run(run_id)
    assert run.status == "running" and run.started_at is not None
    (changed,) = [s for s, _ in said if s.upper().startswith("UPDATE RUNS")]
    assert "RETURNING" not in changed.upper()
    with pytest.raises(NotFound):
        store.mark_run("r-missing", ("run", "nothing"), status="running")


def test_mark_run_computes_fields_on_its_connection_before_the_change(
    store: Store, run_ids: tuple[str, str]
) -> None:
    _, run_id = run_ids
    seen: list[Any] = []

    def computed(conn: Any) -> dict[str, Any]:
        seen.append(store.run_record(run_id, conn).run.status)  # read on its connection
        return {"report": {"status": "delivered"}}

    store.raise_fence(run_id, 1)
    with sent(store.engine) as said, store.fenced(run_id, 1):
        store.mark_run(run_id, ("run", "it ended"), computed=computed, status="delivered")
    assert seen == ["queued"]  # before the change
    assert store.get_run(run_id).report == {"status": "delivered"}
    assert len({id(conn) for _, conn in said}) == 1, said  # one connection
    store.raise_fence(run_id, 2)  # another holder: the fence refuses the change
    with store.fenced(run_id, 1), pytest.raises(FenceRefused):
        store.mark_run(run_id, ("run", "late"), computed=computed, status="failed")
    assert store.get_run(run_id).status == "delivered"


def test_run_record_reads_only_the_tables_that_hold_rows_of_the_run(
    store: Store, run_ids: tuple[str, str]
) -> None:
    project_id, run_id = run_ids
    said: list[tuple[str, Any]] = []

    def record() -> Any:
        with sent(store.engine) as statements:
            found = store.run_record(run_id)
        said[:] = statements
        return found

    empty = record()
    assert (empty.run.id, empty.tasks, empty.artifacts, empty.calls) == (run_id, [], [], [])
    assert len(said) == 1, said  # the run, and that it has nothing more
    store.add_tasks(run_id, [{"key": "T1", "title": "Store", "role": "developer", "complexity": 3}])
    store.put_artifact(run_id, "spec", {"title": "Todo"})
    store.record_call(_call(project_id, run_id, cost_usd=0.25))
    full = record()
    assert [t.key for t in full.tasks] == ["T1"]
    assert [a.content for a in full.artifacts] == [{"title": "Todo"}]
    assert [c.cost_usd for c in full.calls] == [0.25]
    assert len(said) == 4, said
    with pytest.raises(NotFound):
        store.run_record("r-missing")


# tasks and events -----------------------------------------------------------------------------


def test_add_tasks_is_idempotent(store: Store, run_ids: tuple[str, str]) -> None:
    _, run_id = run_ids
    plan = [
        {"key": "T1", "title": "Store", "role": "developer", "complexity": 3},
        {"key": "T2", "title": "API", "role": "developer", "complexity": 5, "depends_on": ["T1"]},
    ]
    store.add_tasks(run_id, plan)
    store.update_task(run_id, "T1", status="done", commit_sha="abc")

    store.add_tasks(
        run_id, [*plan, {"key": "T3", "title": "Docs", "role": "developer", "complexity": 1}]
    )

    tasks = store.tasks(run_id)
    assert [t.key for t in tasks] == ["T1", "T2", "T3"]
    assert (tasks[0].status, tasks[0].commit_sha) == ("done", "abc")  # not overwritten
    assert tasks[1].depends_on == ["T1"]


def test_update_task_of_an_unknown_task_raises_not_found(
    store: Store, run_ids: tuple[str, str]
) -> None:
    _, run_id = run_ids
    with pytest.raises(NotFound) as info:
        store.update_task(run_id, "T9", status="done")
    assert (info.value.kind, info.value.key) == ("task", f"{run_id}/T9")


def test_events_are_ordered_and_paged(store: Store, run_ids: tuple[str, str]) -> None:
    _, run_id = run_ids
    first = store.add_event(run_id, "step", "analyst reads the brief", step="analyze")
    store.add_event(run_id, "task", "T1 done", step="implement", task="T1", data={"sha": "abc"})

    events = store.events(run_id)
    assert [(e.kind, e.message) for e in events] == [
        ("step", "analyst reads the brief"),
        ("task", "T1 done"),
    ]
    assert events[1].data == {"sha": "abc"}
    assert [e.message for e in store.events(run_id, after_id=first.id)] == ["T1 done"]


# the ledger -----------------------------------------------------------------------------------


def test_find_call_matches_run_key_and_fingerprint(store: Store, run_ids: tuple[str, str]) -> None:
    project_id, run_id = run_ids
    store.record_call(_call(project_id, run_id, response="old"))
    store.record_call(_call(project_id, run_id, response="new"))

    found = store.find_call(run_id, "developer/implement/T1#1", "f" * 64)
    assert found is not None
    assert found.response == "new"  # the latest of equal calls
    assert store.find_call(run_id, "developer/implement/T1#2", "f" * 64) is None
    assert store.find_call(run_id, "developer/implement/T1#1", "0" * 64) is None

    other = store.create_run(project_id, store.create_brief(project_id, "cli", "x").id, "m", "w")
    assert store.find_call(other.id, "developer/implement/T1#1", "f" * 64) is None


def test_spent_usd_sums_a_projects_calls(store: Store, run_ids: tuple[str, str]) -> None:
    project_id, run_id = run_ids
    assert store.spent_usd(project_id) == 0.0
    store.record_call(_call(project_id, run_id, cost_usd=0.25))
    store.record_call(_call(project_id, run_id, cost_usd=0.5, call_key="qa/write_tests/T1#1"))

    other = store.create_project("other", "/o")
    other_run = store.create_run(other.id, store.create_brief(other.id, "cli", "x").id, "m", "w")
    store.record_call(_call(other.id, other_run.id, cost_usd=9.0))

    assert store.spent_usd(project_id) == pytest.approx(0.75)
    assert len(store.calls(run_id=run_id)) == 2
    assert len(store.calls(project_id=other.id)) == 1


# artifacts and side effects -------------------------------------------------------------------


def test_artifacts_round_trip_and_filter_by_kind(store: Store, run_ids: tuple[str, str]) -> None:
    _, run_id = run_ids
    spec_id = store.put_artifact(run_id, "spec", {"title": "Todo"})
    store.put_artifact(run_id, "changeset", {"files": []}, task="T1", attempt=2)

    assert store.get_artifact(spec_id) == {"title": "Todo"}
    changesets = store.artifacts(run_id, "changeset")
    assert [(a.task, a.attempt, a.content) for a in changesets] == [("T1", 2, {"files": []})]
    assert len(store.artifacts(run_id)) == 2


def test_once_runs_a_side_effect_once_per_key(store: Store, run_ids: tuple[str, str]) -> None:
    _, run_id = run_ids
    calls: list[str] = []

    def mail() -> dict[str, Any]:
        calls.append("sent")
        return {"path": f"/outbox/{len(calls)}.eml"}

    first = store.once(run_id, "mail:delivered", mail)
    second = store.once(run_id, "mail:delivered", mail)
    other = store.once(run_id, "mail:other", mail)

    assert first == second == {"path": "/outbox/1.eml"}
    assert other == {"path": "/outbox/2.eml"}
    assert calls == ["sent", "sent"]
    assert store.get_effect("mail:delivered") == {"path": "/outbox/1.eml"}


@pytest.mark.parametrize(
    ("kind", "get"),
    [
        ("project", Store.get_project),
        ("brief", Store.get_brief),
        ("run", Store.get_run),
        ("artifact", Store.get_artifact),
    ],
)
def test_not_found_carries_kind_and_key(store: Store, kind: str, get: Any) -> None:
    with pytest.raises(NotFound) as info:
        get(store, "x-missing")
    assert (info.value.kind, info.value.key) == (kind, "x-missing")
    assert "x-missing" in str(info.value)


def test_update_run_and_set_budget_of_unknown_ids_raise_not_found(store: Store) -> None:
    with pytest.raises(NotFound) as run_info:
        store.update_run("r-missing", status="running")
    with pytest.raises(NotFound) as project_info:
        store.set_budget("p-missing", 1.0)
    assert (run_info.value.kind, run_info.value.key) == ("run", "r-missing")
    assert (project_info.value.kind, project_info.value.key) == ("project", "p-missing")


def test_a_step_writes_its_events_artifacts_and_task_rows_in_one_transaction(
    database_url: str,
) -> None:
    store = Store(open_database(database_url))
    project = store.create_project("p", "/tmp/p")
    brief = store.create_brief(project.id, "b", "b")
    run = store.create_run(project.id, brief.id, "m", "w")
    store.add_tasks(run.id, [{"key": "T1", "title": "t", "role": "developer", "complexity": 1}])
    other = Store(open_database(database_url))  # another process's view
    with store.step():
        store.add_event(run.id, "step", "working")
        ref = store.put_artifact(run.id, "spec", {"title": "x"})
        store.update_task(run.id, "T1", status="running")
        assert store.get_artifact(ref) == {"title": "x"}  # this step reads its own writes
        assert [a.id for a in store.artifacts(run.id)] == [ref]
        assert other.events(run.id) == [] and other.artifacts(run.id) == []  # not yet
        assert [t.status for t in other.tasks(run.id)] == ["pending"]
    assert [e.message for e in other.events(run.id)] == ["working"]
    assert other.get_artifact(ref) == {"title": "x"}
    assert [t.status for t in other.tasks(run.id)] == ["running"]


def test_a_step_that_raises_still_writes_what_it_did(database_url: str) -> None:
    store = Store(open_database(database_url))
    project = store.create_project("p", "/tmp/p")
    brief = store.create_brief(project.id, "b", "b")
    run = store.create_run(project.id, brief.id, "m", "w")
    with pytest.raises(RuntimeError), store.step():
        store.add_event(run.id, "step", "before the failure")
        raise RuntimeError("the model answered nonsense")
    assert [e.message for e in store.events(run.id)] == ["before the failure"]
    with pytest.raises(NotFound, match="task"), store.step():
        store.update_task(run.id, "T9", status="running")  # no such task: at the step's end


def test_runs_in_given_statuses_only(store: Store, run_ids: tuple[str, str]) -> None:
    project_id, run_id = run_ids
    brief = store.create_brief(project_id, "cli", "Again.")
    other = store.create_run(project_id, brief.id, "test", "deliver-project").id
    store.update_run(run_id, status="running")
    assert [r.id for r in store.runs(statuses=("running",))] == [run_id]
    assert {r.id for r in store.runs(statuses=("running", "queued"))} == {run_id, other}
    assert store.runs(statuses=()) == []
