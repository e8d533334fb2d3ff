"""The run queue: what a worker should do next (start a run, resume it, answer its gate).

``RunQueue`` is the protocol, with two implementations that pass one conformance suite
(``tests/jobs/test_queue_conformance.py``): ``StoreRunQueue`` keeps the queue in the store's
``run_jobs`` table (the embedded mode, SQLite or PostgreSQL), ``RedisRunQueue``
(``vitco.jobs.redis_queue``) in Redis, shared by every worker of a fleet. ``open_queue``
picks one from ``Settings``.

The semantics both give:

- **Lease**: ``take`` hands a job to one consumer for a visibility timeout (``lease_s``);
  the consumer ``renew``s it while it works and ``finish``es (acks) it at the end. A lease
  that runs out (the consumer died, hung or lost its network) makes the job takeable again:
  another consumer takes it over. Each take counts an ``attempt``, a fencing number: a
  ``renew``, ``finish`` or ``release`` carrying an older attempt is refused (returns False),
  so a consumer that wakes up after its lease expired cannot ack the job another one holds.
- **Order**: a higher ``priority`` first; among jobs of equal priority, tenants take turns
  (the tenant served longest ago goes first, so one tenant's 100 jobs do not starve
  another's 1); within a tenant, first in first out.
- **Cancel** drops the queued jobs of a run; **release** hands a held job back at once (a
  worker shutting down); an enqueue ``key`` makes enqueueing idempotent (the same key
  returns the job already queued for it).
- **Wake-up**: ``listen`` tells an idle worker that another process queued a job or handed one
  back, so it takes it at once instead of at its next poll. Redis publishes each enqueue and
  release; on PostgreSQL the store's queue sends a ``NOTIFY`` in the enqueue's or release's
  transaction (delivered at its commit) on a channel named after the database and schema, and
  each listener holds a connection of its own that ``LISTEN``s there. SQLite has no such
  signal, so its listener looks at the database's files instead (``wakeups.WATCH_S``): in WAL mode
  every commit of any process lands in the ``-wal`` file, and a change there wakes the idle
  worker, which asks the queue (an empty take when the commit was not a job's). A change can
  go unseen (the log restarted after a checkpoint at the same size within the clock's tick):
  the poll stays the guarantee, the watch makes it rare. ``vitco serve``'s own worker is also
  told by the process that queues (``EmbeddedWorker.notify``). The files are the data dir's,
  which only the host writes.

The run's own lease (who executes the run) is ``vitco.jobs.lease``'s concern; this lease is
only the job's, so a dead worker's job reaches a live worker.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast, get_args

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Update,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from vitco.jobs.exceptions import BadJob
from vitco.jobs.wakeups import LISTEN_RETRY_S, listening, nothing, watch_file
from vitco.store.models import RunJob

if TYPE_CHECKING:
    from vitco.config import Settings

logger = logging.getLogger("vitco.jobs")

Action = Literal["start", "resume", "answer"]
"""``start`` a stored run from its beginning, ``resume`` it from its last checkpoint, or
``answer`` its approval gate (the payload is the answer)."""

Ending = Literal["done", "failed", "cancelled"]

DEFAULT_TENANT = "default"
LEASE_S = 60.0
"""The default visibility timeout: a worker renews every third of it, so a live worker keeps
its jobs through two missed renewals and a dead one's are taken over within a minute."""
PRIORITIES = (-100, 100)
MAX_PAYLOAD = 64 * 1024
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_KEY = re.compile(r"[\x21-\x7e]{1,200}")


@dataclass(frozen=True)
class Job:
    """A job as one consumer holds it: ``attempt`` is this take's fencing number."""

    id: int
    run_id: str
    action: Action
    payload: dict[str, Any] | None
    tenant: str = DEFAULT_TENANT
    priority: int = 0
    attempt: int = 1


@dataclass(frozen=True)
class QueueStats:
    """What an autoscaler reads: jobs waiting, jobs held by a consumer, and how long the
    oldest held one has been held (0 when none is)."""

    depth: int
    taken: int
    oldest_lease_s: float


class RunQueue(Protocol):
    def enqueue(
        self,
        run_id: str,
        action: Action,
        payload: dict[str, Any] | None = None,
        *,
        tenant: str = DEFAULT_TENANT,
        priority: int = 0,
        key: str | None = None,
    ) -> int:
        """Queue work on a run; returns the job's id (the existing job's, for a known
        ``key``). Raises ``BadJob`` for arguments it refuses."""
        ...

    def take(
        self, consumer: str, lease_s: float = LEASE_S, *, least: int = PRIORITIES[0]
    ) -> Job | None:
        """The next job (see the module docstring) of priority ``least`` or more, now
        ``consumer``'s for ``lease_s`` seconds; None when there is none."""
        ...

    def renew(self, job: Job, lease_s: float = LEASE_S) -> bool:
        """Extend the lease of a held job to ``lease_s`` from now; False if it is no longer
        this take's (expired and taken over, cancelled, finished)."""
        ...

    def finish(self, job: Job, status: Ending = "done") -> bool:
        """Ack a held job with how it ended; False if it is no longer this take's."""
        ...

    def release(self, job: Job) -> bool:
        """Hand a held job back to be taken at once; False if it is no longer this take's."""
        ...

    def cancel(self, run_id: str) -> int:
        """Drop the queued (not held) jobs of a run; returns how many."""
        ...

    def stats(self) -> QueueStats: ...

    def listen(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake`` (from a thread of the queue's) whenever a job may have become
        takeable in another process: an enqueue, a release. Returns what stops listening. A
        queue that cannot tell returns a no-op: its consumers poll."""
        ...


def check_job(
    run_id: str,
    action: str,
    payload: dict[str, Any] | None,
    tenant: str,
    priority: int,
    key: str | None,
) -> str | None:
    """Refuse what no queue should hold (``BadJob``); returns the payload as JSON. Names go
    into Redis keys, so they are held to a plain alphabet."""
    if not isinstance(run_id, str) or not _NAME.fullmatch(run_id):
        raise BadJob("run_id", run_id, "1-64 letters, digits, '.', '_' or '-'")
    if action not in get_args(Action):
        raise BadJob("action", action, f"one of {', '.join(get_args(Action))}")
    if not isinstance(tenant, str) or not _NAME.fullmatch(tenant):
        raise BadJob("tenant", tenant, "1-64 letters, digits, '.', '_' or '-'")
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise BadJob("priority", priority, "an integer")
    if not PRIORITIES[0] <= priority <= PRIORITIES[1]:
        raise BadJob("priority", priority, f"between {PRIORITIES[0]} and {PRIORITIES[1]}")
    if key is not None and (not isinstance(key, str) or not _KEY.fullmatch(key)):
        raise BadJob("key", key, "1-200 printable ASCII characters without spaces")
    if payload is None:
        return None
    try:
        text = json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BadJob("payload", type(payload).__name__, f"not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise BadJob("payload", type(payload).__name__, "a JSON object")
    if len(text) > MAX_PAYLOAD:
        raise BadJob("payload", f"{len(text)} bytes", f"at most {MAX_PAYLOAD} bytes")
    return text


def check_lease(lease_s: float) -> None:
    if not 0 < lease_s <= 24 * 3600:
        raise BadJob("lease_s", lease_s, "more than 0 and at most a day")


class StoreRunQueue:
    """The queue in the store's database (see the module docstring).

    A take reads the first takeable job (queued, or held with its lease run out) and claims
    it with an ``UPDATE ... WHERE attempt = <the attempt it read>`` that only one consumer
    can win (a loser looks again): the same statement on SQLite and PostgreSQL. Tenants'
    turns come from when each was last served (``max(taken_at)`` per tenant, indexed).
    Times are this host's clock (``clock``): hosts sharing a database keep NTP time.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sessions = sessions
        self.clock = clock

    @property
    def engine(self) -> Engine:
        """The database the queue is in (its ``*_in`` methods write in its transactions)."""
        engine: Engine = self.sessions.kw["bind"]
        return engine

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def enqueue(
        self,
        run_id: str,
        action: Action,
        payload: dict[str, Any] | None = None,
        *,
        tenant: str = DEFAULT_TENANT,
        priority: int = 0,
        key: str | None = None,
    ) -> int:
        # a key is new nearly always: insert first, and read the job of a known key only when
        # the insert is refused (the unique key, also between racing enqueues)
        try:
            with self.engine.begin() as conn:  # Core: every accepted run is one
                return self.enqueue_in(
                    conn, run_id, action, payload, tenant=tenant, priority=priority, key=key
                )
        except IntegrityError:  # a job of the same key was queued before (or just now)
            known = self._keyed(key) if key is not None else None
            if known is None:
                raise
            return known

    def enqueue_in(
        self,
        conn: Connection,
        run_id: str,
        action: Action,
        payload: dict[str, Any] | None = None,
        *,
        tenant: str = DEFAULT_TENANT,
        priority: int = 0,
        key: str | None = None,
    ) -> int:
        """``enqueue`` in ``conn``'s transaction (on this queue's database), with the rows
        the job is for: they and the job are stored together or not at all, and listeners
        are woken at its commit. A known ``key`` raises ``IntegrityError`` (the transaction is
        the caller's to roll back)."""
        check_job(run_id, action, payload, tenant, priority, key)
        job = {
            "run_id": run_id, "action": action, "payload": payload, "tenant_id": tenant,
            "priority": priority, "key": key, "created_at": self._now(),
        }  # fmt: skip
        job_id = int(conn.execute(_ENQUEUE, job).scalar_one())
        self._notify(conn)
        return job_id

    def enqueue_all_in(
        self, conn: Connection, jobs: Sequence[tuple[str, str, str]], action: Action = "start"
    ) -> None:
        """``enqueue_in`` of several runs' jobs, each ``(run_id, tenant, key)``, with one
        INSERT of many rows (a batch of inbound webhooks, ``vitco.api.hook_batches``). A
        known key raises ``IntegrityError`` (the transaction is the caller's to roll back)."""
        now = self._now()
        rows = []
        for run_id, tenant, key in jobs:
            check_job(run_id, action, None, tenant, 0, key)
            rows.append({"run_id": run_id, "action": action, "payload": None,
                         "tenant_id": tenant, "priority": 0, "key": key,
                         "created_at": now})  # fmt: skip
        if rows:
            conn.execute(_ENQUEUE_ALL, rows)
            self._notify(conn)

    def _keyed(self, key: str) -> int | None:
        with self.sessions() as s:
            return s.scalar(select(RunJob.id).where(RunJob.key == key))

    def take(
        self, consumer: str, lease_s: float = LEASE_S, *, least: int = PRIORITIES[0]
    ) -> Job | None:
        check_lease(lease_s)
        while True:
            now = self._now()
            params = {
                "_now": now, "_least": least, "_worker": consumer[:100],
                "_until": now + timedelta(seconds=lease_s),
            }  # fmt: skip
            # Core, not the ORM, statements built once (_TAKE): a take is the queue's hot path.
            # One statement picks the first takeable job and claims it; it claims nothing
            # when the queue is empty, or when another consumer claimed the same job first
            # (PostgreSQL rechecks the claimed row's WHERE after that one's commit): then look
            # again if there is something to take
            with self.engine.begin() as conn:
                won = conn.execute(_TAKE, params).first()
                if won is None:
                    if conn.execute(_TAKE_FIRST, params).first() is None:
                        return None
                    continue
                return Job(
                    won.id,
                    won.run_id,
                    cast(Action, won.action),
                    won.payload,
                    won.tenant_id,
                    won.priority,
                    won.attempt,
                )

    def _held(self, job: Job) -> Any:
        return and_(RunJob.id == job.id, RunJob.attempt == job.attempt, RunJob.status == "taken")

    def renew(self, job: Job, lease_s: float = LEASE_S) -> bool:
        check_lease(lease_s)
        until = self._now() + timedelta(seconds=lease_s)
        with self.sessions.begin() as s:
            return bool(
                _changed(s, update(RunJob).where(self._held(job)).values(lease_until=until))
            )

    def finish(self, job: Job, status: Ending = "done") -> bool:
        with self.engine.begin() as conn:
            return self.finish_in(conn, job, status)

    def finish_in(self, conn: Connection, job: Job, status: Ending = "done") -> bool:
        """``finish`` in ``conn``'s transaction (on this queue's database): a run's ending
        finishes its job in the transaction that records it (``jobs.embedded``)."""
        if status not in get_args(Ending):
            raise BadJob("status", status, f"one of {', '.join(get_args(Ending))}")
        params = {"_id": job.id, "_attempt": job.attempt, "_status": status,
                  "_now": self._now()}  # fmt: skip
        return bool(cast(CursorResult[Any], conn.execute(_FINISH, params)).rowcount)

    def release(self, job: Job) -> bool:
        with self.sessions.begin() as s:
            released = _changed(
                s,
                update(RunJob)
                .where(self._held(job))
                .values(status="queued", worker=None, lease_until=None),
            )
            if released:
                self._notify(s.connection())
            return bool(released)

    def cancel(self, run_id: str) -> int:
        with self.sessions.begin() as s:
            return _changed(
                s,
                update(RunJob)
                .where(RunJob.run_id == run_id, RunJob.status == "queued")
                .values(status="cancelled", finished_at=self._now()),
            )

    def stats(self) -> QueueStats:
        with self.sessions() as s:
            depth = s.scalar(select(func.count()).where(RunJob.status == "queued")) or 0
            taken, oldest = s.execute(
                select(func.count(), func.min(RunJob.taken_at)).where(RunJob.status == "taken")
            ).one()
        age = 0.0
        if oldest is not None:
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)
            age = max(0.0, self.clock() - oldest.timestamp())
        return QueueStats(int(depth), int(taken or 0), age)

    def _notify(self, conn: Connection) -> None:
        """Wake the listeners when this transaction commits (PostgreSQL; module docstring)."""
        if self.engine.dialect.name == "postgresql":
            conn.execute(_NOTIFY)

    def listen(self, wake: Callable[[], None]) -> Callable[[], None]:
        """On PostgreSQL, call ``wake`` for every enqueue and release of any process, from a
        thread of its own with a connection of its own that ``LISTEN``s on the queue's
        channel; after the server was away it listens again and calls ``wake`` once (what was
        queued meanwhile went unheard). Returns what stops it (within a second). On a SQLite
        file, call ``wake`` when the file's write-ahead log changed (see the module
        docstring); in memory, nothing (consumers poll)."""
        if self.engine.dialect.name == "postgresql":
            return listening(self._listen, wake)
        database = self.engine.url.database
        if database in (None, "", ":memory:"):
            return nothing
        return listening(functools.partial(watch_file, Path(database)), wake)

    def _listen(self, wake: Callable[[], None], stopped: threading.Event) -> None:
        import psycopg
        from psycopg import sql

        url = self.engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while not stopped.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
                    row = conn.execute(f"SELECT {_CHANNEL}").fetchone()
                    assert row is not None
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(str(row[0]))))
                    wake()  # listening from now on: look once for what came before
                    while not stopped.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            wake()
            except psycopg.Error as exc:
                logger.debug("queue listener: PostgreSQL away (%s), polling meanwhile", exc)
                stopped.wait(LISTEN_RETRY_S)


_CHANNEL = "'vitco_jobs_' || md5(current_database() || '.' || current_schema())"
"""The queue's channel, computed by the server from the session's database and schema, so a
notifier and a listener on the same queue meet, and schemas sharing a database do not."""
_NOTIFY = text(f"SELECT pg_notify({_CHANNEL}, '')")


def _takeable_at(now: Any) -> Any:
    return or_(
        RunJob.status == "queued",
        and_(RunJob.status == "taken", RunJob.lease_until < now),
    )


_SERVED = aliased(RunJob, name="served")
_HEAD = aliased(RunJob, name="head")
# The first takeable job of each priority and tenant, then when each of those tenants was last
# served (one look-up in ix_run_jobs_tenant_taken each): the same job as ordering every
# takeable job by (priority, tenant served, id), without a GROUP BY over every job ever queued
# (each take got slower as the table grew), nor over every job queued now: the queued ones'
# (priority, tenant) pairs are walked in ix_run_jobs_status_priority_tenant, one seek from each
# pair to the next (a recursive CTE: SQL has no loose index scan), so a take costs the same
# with 10 or 10,000 jobs queued. Jobs taken and let expire are few (at most what the workers
# held when they died): those are grouped.
_first_pair = (
    select(RunJob.priority, RunJob.tenant_id)
    .where(RunJob.status == "queued", RunJob.priority >= bindparam("_least"))
    .order_by(RunJob.priority, RunJob.tenant_id)
    .limit(1)
    .subquery("first_pair")
)
_pairs = select(_first_pair.c.priority, _first_pair.c.tenant_id).cte(
    "pairs", recursive=True, nesting=True
)
_pair = _pairs.alias("pair")
_QUEUED = aliased(RunJob, name="queued")
_same_priority_next = (  # the next tenant with jobs queued at the pair's priority
    select(_QUEUED.tenant_id)
    .where(
        _QUEUED.status == "queued",
        _QUEUED.priority == _pair.c.priority,
        _QUEUED.tenant_id > _pair.c.tenant_id,
    )
    .order_by(_QUEUED.tenant_id)
    .limit(1)
    .scalar_subquery()
)
_LATER = aliased(RunJob, name="later")
_next_priority = (  # else the next priority with jobs queued, and its first tenant
    select(_LATER.priority)
    .where(_LATER.status == "queued", _LATER.priority > _pair.c.priority)
    .order_by(_LATER.priority)
    .limit(1)
    .correlate(_pair)
    .scalar_subquery()
)
# Each is one seek: a row-value comparison, (priority, tenant_id) > (...), seeks on the
# priority only in SQLite and scans the rest (0.9 ms against 6 µs with 3,000 queued).
_pairs = _pairs.union_all(
    select(
        case(
            (_same_priority_next.is_not(None), _pair.c.priority),
            else_=_next_priority,
        ),
        func.coalesce(
            _same_priority_next,
            select(_QUEUED.tenant_id)
            .where(_QUEUED.status == "queued", _QUEUED.priority == _next_priority)
            .order_by(_QUEUED.tenant_id)
            .limit(1)
            .scalar_subquery(),
        ),
    ).where(_pair.c.priority.is_not(None))
)
_FIRST = union_all(
    select(
        _pairs.c.priority,
        _pairs.c.tenant_id,
        select(func.min(_HEAD.id))
        .where(
            _HEAD.status == "queued",
            _HEAD.priority == _pairs.c.priority,
            _HEAD.tenant_id == _pairs.c.tenant_id,
        )
        .scalar_subquery()
        .label("id"),
    ).where(_pairs.c.priority.is_not(None)),
    select(RunJob.priority, RunJob.tenant_id, func.min(RunJob.id).label("id"))
    .where(
        RunJob.status == "taken",
        RunJob.lease_until < bindparam("_now"),
        RunJob.priority >= bindparam("_least"),
    )
    .group_by(RunJob.priority, RunJob.tenant_id),
).subquery("first_takeable")
_TAKE_FIRST = (
    select(RunJob.id, RunJob.attempt)
    .join(_FIRST, _FIRST.c.id == RunJob.id)
    .order_by(
        _FIRST.c.priority.desc(),
        select(func.max(_SERVED.taken_at))
        .where(_SERVED.tenant_id == _FIRST.c.tenant_id)
        .scalar_subquery()
        .asc()
        .nulls_first(),
        _FIRST.c.id,
    )
    .limit(1)
)
_TAKE = (
    update(RunJob)
    .where(
        RunJob.id == _TAKE_FIRST.with_only_columns(RunJob.id).scalar_subquery(),
        _takeable_at(bindparam("_now")),
    )
    .values(
        status="taken",
        worker=bindparam("_worker"),
        taken_at=bindparam("_now"),
        lease_until=bindparam("_until"),
        attempt=RunJob.attempt + 1,
    )
    .returning(
        RunJob.id,
        RunJob.run_id,
        RunJob.action,
        RunJob.payload,
        RunJob.tenant_id,
        RunJob.priority,
        RunJob.attempt,
    )
)
_FINISH = (
    update(RunJob)
    .where(
        RunJob.id == bindparam("_id"),
        RunJob.attempt == bindparam("_attempt"),
        RunJob.status == "taken",
    )
    .values(status=bindparam("_status"), finished_at=bindparam("_now"), lease_until=None)
)
_ENQUEUE = insert(RunJob).returning(RunJob.id)
_ENQUEUE_ALL = insert(RunJob)


def _changed(s: Session | Connection, statement: Update) -> int:
    """Rows an UPDATE changed."""
    result = cast(CursorResult[Any], s.execute(statement))
    return int(result.rowcount)


def open_queue(settings: Settings, sessions: sessionmaker[Session]) -> RunQueue:
    """The queue ``settings`` choose: Redis (``VITCO_QUEUE=redis``, the default when
    ``VITCO_REDIS_URL`` is set) or the store's table (``sessions``)."""
    if settings.resolved_queue == "redis":
        from vitco.jobs.redis_queue import RedisRunQueue, connect

        assert settings.redis_url is not None  # Settings refuses redis without a URL
        return RedisRunQueue(connect(settings.redis_url), prefix=settings.queue_prefix)
    return StoreRunQueue(sessions)
