"""Engine, sessions and migrations.

``open_database(url)`` returns a session factory on a schema at the newest revision: Alembic
runs automatically on first use, so a fresh data dir needs no set-up step. Many processes, on
one host or many, may open the same fresh database at once, so the migration runs under a lock
that spans them:

- PostgreSQL: a session-level advisory lock, ``pg_advisory_lock(MIGRATION_LOCK_KEY)``, held on
  the connection that migrates. Session-level rather than transaction-level so that it would
  still hold across a migration step that has to run outside a transaction; the server drops
  it when the session ends, so a process killed while migrating leaves nothing taken.
- SQLite: ``flock`` on ``<db file>.migrate.lock`` next to the database (the kernel drops it when
  the process dies), plus SQLite's own busy timeout for the writes of everyone else.

Under the lock the database's revision is read and compared with the head of the migration
scripts; at head, the common case, that read is all it costs (no Alembic command runs). A
revision the scripts don't know means a newer vitco migrated the database: ``SchemaTooNew``.

Where operators migrate once before starting many hosts (``vitco db upgrade``), the hosts open
with ``migrate=False``: a schema that is behind then raises ``SchemaOutdated`` instead of being
upgraded by whichever host happens to start first.

SQLite gets WAL and a busy timeout because parallel task branches write from several threads.
Switching a fresh database to WAL needs its exclusive lock, and SQLite answers "database is
locked" at once, without its busy handler, while another connection holds a write lock on a
database still in rollback mode (it would deadlock otherwise): several processes opening one
fresh data dir meet exactly that, so the switch is retried for as long as the busy timeout.
"""

from __future__ import annotations

import atexit
import contextvars
import fcntl
import functools
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vitco.store.exceptions import SchemaOutdated, SchemaTooNew

if TYPE_CHECKING:
    from alembic.config import Config

    from vitco.config import Settings
    from vitco.observability.redaction import Redactor
    from vitco.store.repo import Store

logger = logging.getLogger("vitco.store")

MIGRATIONS = Path(__file__).parent / "migrations"
# The first 8 bytes of sha256(b"vitco.store.migrate") as a signed bigint. Advisory locks are
# scoped to one database, so vitco schemas in the same database take turns; others never meet.
MIGRATION_LOCK_KEY = -2896284392535920977

# SQLite's busy timeout: how long a connection waits for another's lock, here and in the WAL switch.
SQLITE_BUSY_S = 30.0

# How long a new connection waits for a server that refuses it (a restart, a failover).
CONNECT_WAIT_S = 60.0

_at_head: set[str] = set()
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class SchemaRevision:
    """Where a database's schema is (``current``; None if it was never migrated) and where this
    code's migrations end (``head``)."""

    current: str | None
    head: str

    @property
    def at_head(self) -> bool:
        return self.current == self.head


@dataclass(frozen=True)
class Migration:
    """What ``migrate`` found (``before``; None for an empty database) and left (``after``, the
    head)."""

    before: str | None
    after: str

    @property
    def upgraded(self) -> bool:
        """Whether this call ran the upgrade (False: another process had, or nothing to do)."""
        return self.before != self.after


def _enter_wal(cur: Any, *, wait_s: float = SQLITE_BUSY_S) -> None:
    """``PRAGMA journal_mode=WAL``, retried while SQLite refuses it without waiting (see the
    module docstring); another error, or the lock still held after ``wait_s``, is raised."""
    import sqlite3

    deadline = time.monotonic() + wait_s
    pause = 0.001
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    _enter_wal(cur)
    cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_S * 1000)}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def create(url: str) -> Engine:
    """An engine for ``url`` (no migrations)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_S}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        database = engine.url.database
        if database not in (None, "", ":memory:"):
            from vitco.store.turns import take_turns

            take_turns(engine, Path(database), SQLITE_BUSY_S)
        return engine
    # pool_pre_ping: a connection the server dropped (PostgreSQL restarted) is replaced at
    # checkout instead of failing the statement of a running step; its round trip is sent
    # only when the connection's socket says something happened (``store.liveness``: 116
    # of a bench-scale run's 461 statements were the ping). A connect that is refused waits
    # for the server (``_connect``).
    engine = create_engine(
        url, pool_recycle=300, pool_pre_ping=True, connect_args={"connect_timeout": 10}
    )
    from vitco.store.liveness import checked_ping  # psycopg: the PostgreSQL extra

    dialect: Any = engine.dialect  # this engine's own instance: no other engine sees it
    dialect.do_ping = checked_ping(dialect.do_ping)
    event.listen(engine, "do_connect", _connect)
    return engine


_connect_wait: contextvars.ContextVar[float] = contextvars.ContextVar(
    "vitco_connect_wait", default=CONNECT_WAIT_S
)


@contextmanager
def connect_wait(seconds: float) -> Iterator[None]:
    """Connections made in the block wait at most ``seconds`` for a server that refuses (a
    diagnosis wants an answer now, not after a restart's worth of waiting)."""
    token = _connect_wait.set(seconds)
    try:
        yield
    finally:
        _connect_wait.reset(token)


def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    """Connect, waiting (backing off up to 5 s) while the server refuses, for at most
    ``CONNECT_WAIT_S`` (or what ``connect_wait`` says): a store call made while PostgreSQL
    restarts waits for it instead of failing the step (see ``vitco.workflow.outages`` for what
    fails anyway)."""
    deadline = time.monotonic() + _connect_wait.get()
    pause = 0.25
    while True:
        try:
            return dialect.dbapi.connect(*cargs, **cparams)
        except dialect.dbapi.OperationalError:
            if time.monotonic() + pause > deadline:
                raise
            logger.warning("the database refuses connections; retrying in %.2f s", pause)
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def _alembic_config() -> Config:
    from alembic.config import Config  # Alembic only when a migration is looked at

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@functools.cache
def _scripts() -> tuple[str, frozenset[str]]:
    """The head and every revision of the migration scripts (read once per process)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_alembic_config())
    head = scripts.get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise RuntimeError(f"no migration scripts in {MIGRATIONS}")
    return head, frozenset(script.revision for script in scripts.walk_revisions())


def _revision(conn: Connection) -> SchemaRevision:
    from alembic.runtime.migration import MigrationContext

    head, known = _scripts()
    current = MigrationContext.configure(conn).get_current_revision()
    if current is not None and current not in known:
        raise SchemaTooNew(current, head)
    return SchemaRevision(current, head)


def schema_revision(engine: Engine) -> SchemaRevision:
    """The database's revision and this code's head, without a lock and without changing
    anything. Raises ``SchemaTooNew`` for a revision this code does not know."""
    with engine.connect() as conn:
        return _revision(conn)


def _lock_file(url: URL) -> Path | None:
    """``<db file>.migrate.lock`` for a SQLite file; None where there is no file to share."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(f"{url.database}.migrate.lock")


@contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    # The lock file stays: removing it would let a process that still holds the old file and
    # one that created a new file both hold "the" lock.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def _advisory_lock(conn: Connection) -> Iterator[None]:
    key = {"key": MIGRATION_LOCK_KEY}
    conn.execute(text("SELECT pg_advisory_lock(:key)"), key)
    conn.commit()  # the lock belongs to the session and outlives this transaction
    try:
        yield
    finally:
        try:
            conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), key)
            conn.commit()
        except SQLAlchemyError:
            # Ending the session releases its locks; a connection that may still hold the
            # lock must not go back to the pool.
            conn.invalidate()


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection of ``engine`` (outside a transaction) while holding the lock that every
    process migrating this database takes."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn, _advisory_lock(conn):
            yield conn
    else:
        with _file_lock(_lock_file(engine.url)), engine.connect() as conn:
            yield conn


def migrate(engine: Engine) -> Migration:
    """Bring the schema to the newest revision, under the cross-process migration lock; at head
    already, only read the revision. Raises ``SchemaTooNew`` (and changes nothing) when the
    database is at a revision this code does not know."""
    with _migration_lock(engine) as conn, conn.begin():
        revision = _revision(conn)
        if revision.at_head:
            return Migration(revision.current, revision.head)
        from alembic import command

        cfg = _alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    logger.info("database schema upgraded from %s to %s", revision.current, revision.head)
    return Migration(revision.current, revision.head)


def _engine(url: str) -> Engine:
    """The process's engine for ``url``; the caller holds ``_lock``."""
    engine = _engines.get(url)
    if engine is None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = _engines[url] = create(url)
    return engine


def open_engine(url: str) -> Engine:
    """This process's engine for ``url`` (one connection pool per URL), made on first use with
    the directory of a SQLite file. Nothing is migrated or checked."""
    with _lock:
        return _engine(url)


def open_database(url: str, *, migrate: bool = True) -> sessionmaker[Session]:
    """A session factory on a database whose schema is at head. One engine (and connection
    pool) per URL per process; the schema is looked at once per URL per process.

    With ``migrate`` (the default) a schema that is behind is upgraded, safely when many
    processes open it at once. With ``migrate=False`` it must be at head already (``vitco db
    upgrade``), else ``SchemaOutdated``. Either way a schema newer than this code raises
    ``SchemaTooNew``.
    """
    with _lock:
        engine = _engine(url)
        if url not in _at_head:
            _ensure_head(engine, upgrade=migrate)
            _at_head.add(url)
    return sessionmaker(engine, expire_on_commit=False)


@functools.cache
def newest_revision() -> str:
    """The head revision, read from the scripts' file names without Alembic: revisions are
    numbered like their files (``0003_sandbox_slots.py`` is revision ``0003``), and each one
    follows the one before (``tests/store`` holds Alembic to that)."""
    return max(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def _at_head_already(engine: Engine) -> bool:
    """The common case, cheaply: one query, no Alembic, no lock (a schema at head is final)."""
    try:
        with engine.connect() as conn:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return False
    return current == newest_revision()


def _ensure_head(engine: Engine, *, upgrade: bool) -> None:
    if _at_head_already(engine):
        return
    if upgrade:
        migrate(engine)
        return
    revision = schema_revision(engine)
    if not revision.at_head:
        raise SchemaOutdated(revision.current, revision.head)


@atexit.register
def close_databases(url: str | None = None) -> None:
    """Close the pooled connections of one URL's engine (or all of them)."""
    with _lock:
        for key in [url] if url else list(_engines):
            engine = _engines.pop(key, None)
            if engine is not None:
                engine.dispose()
            _at_head.discard(key)


def open_store(settings: Settings, *, redactor: Redactor | None = None) -> Store:
    """The store of ``settings``: its data dir made (0700), its database opened, migrated on
        first use unless ``settings.auto_migrate`` is off (then ``vitco db upgrade`` does it), with
        the event bus of ``settings`` (``vitco.events.open_bus``) that its event writes notify, and
    ``redactor`` cleaning what it writes (``vitco.observability.redaction``)."""
    from vitco.events import open_bus
    from vitco.store.repo import Store

    settings.ensure_dirs()
    sessions = open_database(settings.resolved_database_url, migrate=settings.auto_migrate)
    return Store(sessions, bus=open_bus(settings), redactor=redactor)
