"""Sandbox slots on real SQLite and PostgreSQL: one per project, the smallest free one, never
shared even when processes create projects at the same moment; migration 0003 backfills them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from vitco.store import Store, open_database
from vitco.store import projects as store_projects
from vitco.store import slots as store_slots
from vitco.store.db import MIGRATIONS, create, migrate
from vitco.store.exceptions import SandboxSlotContended
from vitco.store.models import Brief, Project, Run, new_id
from vitco.store.repo import DEFAULT_TENANT, NewRun, ProjectRows
from vitco.store.slots import SLOT_LOCK


@pytest.fixture
def store(database_url: str) -> Store:
    return Store(open_database(database_url))


@pytest.fixture
def engines(database_url: str) -> Iterator[list[Engine]]:
    """Engines of their own (own connection pools), as other processes would have; disposed."""
    made: list[Engine] = []
    yield made
    for engine in made:
        engine.dispose()


def _other_process(database_url: str, engines: list[Engine]) -> Store:
    engine = create(database_url)
    engines.append(engine)
    return Store(sessionmaker(engine, expire_on_commit=False))


def _slots(store: Store) -> list[int]:
    with store.sessions() as s:
        return list(s.scalars(select(Project.sandbox_slot).order_by(Project.sandbox_slot)))


def test_projects_get_distinct_slots_counting_from_zero(store: Store) -> None:
    created = [store.create_project(f"p{i}", f"/r/{i}") for i in range(25)]

    assert [p.sandbox_slot for p in created] == list(range(25))
    assert store.get_project(created[7].id).sandbox_slot == 7
    assert _slots(store) == list(range(25))


def test_the_slots_of_deleted_projects_are_reused_smallest_first(store: Store) -> None:
    created = [store.create_project(f"p{i}", f"/r/{i}") for i in range(6)]
    with store.sessions.begin() as s:  # the store has no delete yet; a project may still go
        for project in (created[4], created[0], created[2]):
            s.delete(s.get(Project, project.id))

    again = [store.create_project(f"q{i}", f"/q/{i}").sandbox_slot for i in range(4)]

    assert again == [0, 2, 4, 6]
    assert _slots(store) == list(range(7))


def test_projects_opened_together_take_the_smallest_free_slots(store: Store) -> None:
    """``open_projects`` (a batch of webhooks): the next slots when the held ones are dense,
    the gaps first when they are not; every project with its brief and run."""

    def rows(*names: str) -> list[ProjectRows]:
        return [
            ProjectRows(new_id("p"), DEFAULT_TENANT, name, f"/r/{name}", "", None,
                        ("brief.md", f"# {name}"), NewRun("test", "deliver-project",
                                                          run_id=new_id("r")))
            for name in names
        ]  # fmt: skip

    def opened(*names: str) -> list[int]:
        made = rows(*names)
        with store.engine.begin() as conn:
            store.open_projects(conn, made)
        return [store.get_project(p.project_id).sandbox_slot for p in made]

    assert opened("a", "b", "c") == [0, 1, 2]  # none held
    assert opened("d", "e") == [3, 4]  # dense
    with store.sessions.begin() as s:  # a and c give theirs back (below 0: none held)
        for name, none in (("a", -1), ("c", -2)):
            s.execute(update(Project).where(Project.name == name).values(sandbox_slot=none))
    assert opened("f", "g", "h") == [0, 2, 5]  # the gaps, then the next
    assert _slots(store) == [-2, -1, *range(6)]
    with store.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Run)) == 8
        assert s.scalar(select(func.count()).select_from(Brief)) == 8


def _retried_only_without_the_lock(database_url: str) -> None:
    if database_url.startswith("postgresql"):
        pytest.skip(
            "on PostgreSQL the pick is serialised by an advisory lock: another process cannot "
            "take the slot in between (it waits; see test_the_pick_waits_for_the_lock_holder)"
        )


def _picks(
    store: Store, monkeypatch: pytest.MonkeyPatch, then: Callable[[int], object]
) -> list[int]:
    """The slots ``store`` picks from now on (another store's picks are not counted), each
    followed by ``then(how many so far)``: between its pick and its insert."""
    picks: list[int] = []
    real = store_slots.pick_slot

    def pick(conn: Connection) -> int:
        slot = real(conn)
        if conn.engine is store.engine:
            picks.append(slot)
            then(len(picks))
        return slot

    monkeypatch.setattr(store_projects, "pick_slot", pick)
    return picks


def test_a_slot_taken_by_another_process_meanwhile_is_picked_again(
    store: Store, database_url: str, engines: list[Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    _retried_only_without_the_lock(database_url)
    other = _other_process(database_url, engines)
    store.create_project("first", "/r/first")  # slot 0

    def interlope(picked: int) -> None:
        # between picking its slot and inserting, another process takes that slot
        if picked == 1:
            other.create_project("interloper", "/r/interloper", project_id="p-interloper")

    picks = _picks(store, monkeypatch, interlope)
    project = store.create_project("mine", "/r/mine", project_id="p-mine")

    assert picks == [1, 2]  # lost once, then won
    assert other.get_project("p-interloper").sandbox_slot == 1
    assert project.sandbox_slot == store.get_project("p-mine").sandbox_slot == 2


def test_losing_the_race_every_time_raises_a_typed_error_and_stores_nothing(
    store: Store, database_url: str, engines: list[Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    _retried_only_without_the_lock(database_url)
    monkeypatch.setattr(store_projects, "SLOT_ATTEMPTS", 3)
    other = _other_process(database_url, engines)
    picks = _picks(store, monkeypatch, lambda _: other.create_project("interloper", "/r/i"))

    with pytest.raises(SandboxSlotContended) as info:
        store.create_project("mine", "/r/mine", project_id="p-mine")

    assert (info.value.project_id, info.value.attempts) == ("p-mine", 3)
    assert picks == [0, 1, 2]
    assert isinstance(info.value.__cause__, IntegrityError)
    assert [p.name for p in store.projects()] == ["interloper"] * 3


@pytest.mark.postgres
def test_the_pick_waits_for_the_lock_holder(postgres_url: str, engines: list[Engine]) -> None:
    store = Store(open_database(postgres_url))
    other = _other_process(postgres_url, engines)
    created: list[int] = []
    store.ensure_tenant()
    with store.sessions.begin() as s:  # another host in the middle of its pick
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SLOT_LOCK})
        waiting = threading.Thread(
            target=lambda: created.append(other.create_project("b", "/b").sandbox_slot)
        )
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive() and created == []  # it waits for the lock
        s.add(
            Project(
                id="p-holder",
                tenant_id="default",
                name="a",
                repo_path="/a",
                client="",
                sandbox_slot=0,
            )
        )
    waiting.join(timeout=30)
    assert created == [1]  # it picked after the holder committed slot 0


def test_a_taken_project_id_is_not_retried(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.create_project("a", "/a", project_id="p-same")
    picks = _picks(store, monkeypatch, lambda _: None)

    with pytest.raises(IntegrityError):
        store.create_project("b", "/b", project_id="p-same")

    assert picks == [1]  # one try
    assert store.get_project("p-same").name == "a"


def test_concurrent_creation_from_several_connections_never_shares_a_slot(
    store: Store, database_url: str, engines: list[Engine]
) -> None:
    workers, each = 8, 6
    stores = [_other_process(database_url, engines) for _ in range(workers)]
    start = threading.Barrier(workers, timeout=30)
    slots: list[int] = []
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            start.wait()
            for i in range(each):
                project = stores[worker].create_project(f"w{worker}-{i}", f"/r/{worker}/{i}")
                slots.append(project.sandbox_slot)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert sorted(slots) == list(range(workers * each))
    assert _slots(store) == list(range(workers * each))


# migration 0003 -------------------------------------------------------------------------------


def _alembic(engine: Engine, verb: str, revision: str) -> None:
    """Drive alembic as store/db.py's ``migrate`` does, to a given revision."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, verb)(cfg, revision)


def test_migration_0003_backfills_existing_projects_in_creation_order(
    database_url: str, engines: list[Engine]
) -> None:
    engine = create(database_url)
    engines.append(engine)
    _alembic(engine, "upgrade", "0002")
    # created out of id order, one tie (broken by id); each with a brief and a run pointing at it
    existing = [
        ("p-c", "2026-01-03 00:00:00"),
        ("p-a", "2026-01-01 00:00:00"),
        ("p-e", "2026-01-02 00:00:00"),
        ("p-d", "2026-01-02 00:00:00"),
    ]
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO tenants VALUES ('default', 'Default', '2026-01-01')"))
        for project_id, created_at in existing:
            conn.execute(
                text(
                    "INSERT INTO projects (id, tenant_id, name, repo_path, client, created_at) "
                    "VALUES (:id, 'default', :id, '/r', '', :at)"
                ),
                {"id": project_id, "at": created_at},
            )
            conn.execute(
                text("INSERT INTO briefs VALUES (:b, :id, 'cli', 'x', :at)"),
                {"b": f"b-{project_id}", "id": project_id, "at": created_at},
            )
            conn.execute(
                text(
                    "INSERT INTO runs (id, project_id, brief_id, workflow, branch, model, status,"
                    " created_at) VALUES (:r, :id, :b, 'w', 'main', 'm', 'queued', :at)"
                ),
                {
                    "r": f"r-{project_id}",
                    "id": project_id,
                    "b": f"b-{project_id}",
                    "at": created_at,
                },
            )

    migrate(engine)

    store = Store(sessionmaker(engine, expire_on_commit=False))
    slots = {p.id: p.sandbox_slot for p in store.projects()}
    assert slots == {"p-a": 0, "p-d": 1, "p-e": 2, "p-c": 3}
    assert {r.id: r.project_id for r in store.runs()} == {f"r-{p}": p for p, _ in existing}
    assert store.create_project("new", "/r/new").sandbox_slot == 4
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE projects SET sandbox_slot = 0 WHERE id = 'p-c'"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE projects SET sandbox_slot = NULL WHERE id = 'p-c'"))
    with pytest.raises(IntegrityError), engine.begin() as conn:  # foreign keys still hold
        conn.execute(
            text("INSERT INTO briefs VALUES ('b-x', 'p-missing', 'cli', 'x', '2026-01-01')")
        )


def test_migration_0003_downgrades_and_upgrades_again_keeping_the_projects(
    database_url: str, engines: list[Engine]
) -> None:
    store = Store(open_database(database_url))
    ids = [store.create_project(f"p{i}", "/r").id for i in range(3)]
    store.create_brief(ids[1], "cli", "x")
    engine = store.sessions.kw["bind"]

    _alembic(engine, "downgrade", "0002")
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT id FROM projects")).scalars()) == sorted(ids)
    _alembic(engine, "upgrade", "head")

    in_creation_order = sorted(store.projects(), key=lambda p: (p.created_at, p.id))
    assert [p.sandbox_slot for p in in_creation_order] == [0, 1, 2]
