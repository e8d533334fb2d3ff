"""Many processes opening one fresh database at once: the schema is migrated exactly once, by
one of them, and every open succeeds (SQLite and PostgreSQL). A schema newer than the code, or
behind it with automatic migration off, is a typed error."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from tests.store.test_store import _head_revision
from vitco.store import SchemaOutdated, SchemaTooNew, migrate, open_database
from vitco.store.db import MIGRATION_LOCK_KEY, close_databases, create

PROCESSES = 8

# Each process imports vitco, says it is ready, waits for the word, opens the database, and
# reports the migration steps Alembic ran in it (it logs each as "Running upgrade A -> B, ...").
OPEN_IN_A_PROCESS = """
import json, logging, sys

ran = []

class Keep(logging.Handler):
    def emit(self, record):
        if record.getMessage().startswith("Running "):
            ran.append(record.getMessage())

log = logging.getLogger("alembic.runtime.migration")
log.addHandler(Keep())
log.setLevel(logging.INFO)

from vitco.store import open_database

print("ready", flush=True)
sys.stdin.readline()
open_database(sys.argv[1])
print(json.dumps(ran), flush=True)
"""


def _open_from_many_processes(url: str) -> list[list[str]]:
    """Open ``url`` from PROCESSES processes released at once; the Alembic steps each ran."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_IN_A_PROCESS, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for proc in procs:  # all imported and waiting: the opens start together
            assert proc.stdout is not None
            assert proc.stdout.readline() == "ready\n"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outcomes = [proc.communicate(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    failed = [err for proc, (_, err) in zip(procs, outcomes, strict=True) if proc.returncode]
    assert failed == []
    return [json.loads(out) for out, _ in outcomes]


@contextmanager
def _other_engine(url: str) -> Iterator[Engine]:
    """An engine of its own (own connection pool), as another process would have."""
    engine = create(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _versions(url: str) -> list[str]:
    with _other_engine(url) as engine, engine.connect() as conn:
        return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def _assert_migrated_exactly_once(steps_per_process: list[list[str]], url: str) -> None:
    migrating = [steps for steps in steps_per_process if steps]
    assert len(migrating) == 1, steps_per_process
    assert all(step.startswith("Running upgrade ") for step in migrating[0])
    assert f"-> {_head_revision()}," in migrating[0][-1]
    assert _versions(url) == [_head_revision()]


def test_eight_processes_open_a_fresh_sqlite_data_dir_at_once(tmp_path: Path) -> None:
    db_file = tmp_path / "home" / "vitco.sqlite"  # the data dir does not exist yet either
    url = f"sqlite:///{db_file}"

    steps = _open_from_many_processes(url)

    _assert_migrated_exactly_once(steps, url)
    assert Path(f"{db_file}.migrate.lock").is_file()


@pytest.mark.postgres
def test_eight_processes_open_a_fresh_postgres_schema_at_once(postgres_url: str) -> None:
    steps = _open_from_many_processes(postgres_url)

    _assert_migrated_exactly_once(steps, postgres_url)


@pytest.mark.postgres
def test_a_migration_waits_for_the_advisory_lock(postgres_url: str) -> None:
    key = MIGRATION_LOCK_KEY & 0xFFFFFFFFFFFFFFFF  # pg_locks shows the bigint as two oids
    waiting = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND classid = :hi AND objid = :lo AND objsubid = 1"
    )
    lock = {"k": MIGRATION_LOCK_KEY}
    # Exits run inside out: should an assertion fail, the holder's connection closes (dropping
    # the lock) before the pool waits for the migration.
    with (
        _other_engine(postgres_url) as migrating,
        ThreadPoolExecutor(1) as pool,
        _other_engine(postgres_url) as holder,
        holder.connect() as conn,
    ):
        conn.execute(text("SELECT pg_advisory_lock(:k)"), lock)
        conn.commit()
        done = pool.submit(migrate, migrating)
        while not conn.execute(waiting, {"hi": key >> 32, "lo": key & 0xFFFFFFFF}).scalar():
            conn.rollback()
            assert not done.done(), done.exception()
            time.sleep(0.01)
        conn.rollback()
        assert "alembic_version" not in inspect(conn).get_table_names()  # it waits, unmigrated
        conn.rollback()

        conn.execute(text("SELECT pg_advisory_unlock(:k)"), lock)
        conn.commit()
        result = done.result(timeout=120)

    assert (result.before, result.after, result.upgraded) == (None, _head_revision(), True)
    assert _versions(postgres_url) == [_head_revision()]


def test_a_schema_newer_than_the_code_is_refused_and_left_alone(database_url: str) -> None:
    engine = open_database(database_url).kw["bind"]
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    close_databases(database_url)  # as a process running an older vitco would start

    for migrate_on_open in (True, False):
        with pytest.raises(SchemaTooNew) as raised:
            open_database(database_url, migrate=migrate_on_open)
        assert (raised.value.found, raised.value.head) == ("9999_from_the_future", _head_revision())
        assert "Upgrade vitco" in str(raised.value)
    with pytest.raises(SchemaTooNew), _other_engine(database_url) as engine:
        migrate(engine)
    assert _versions(database_url) == ["9999_from_the_future"]


def test_without_automatic_migration_a_schema_behind_is_refused(database_url: str) -> None:
    with pytest.raises(SchemaOutdated) as raised:
        open_database(database_url, migrate=False)
    assert (raised.value.found, raised.value.head) == (None, _head_revision())
    assert "vitco db upgrade" in raised.value.fix
    with _other_engine(database_url) as engine:
        assert "alembic_version" not in inspect(engine).get_table_names()  # nothing migrated
        assert migrate(engine).upgraded
    close_databases(database_url)
    sessions = open_database(database_url, migrate=False)
    with sessions() as session:
        assert session.execute(text("SELECT count(*) FROM projects")).scalar() == 0
