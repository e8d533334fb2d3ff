"""The run lease as a database row: the embedded default (SQLite) and the distributed one
(PostgreSQL), on the store's own database, so a fleet needs nothing more than it already has.

One row per run in ``run_leases`` (owner, token, acquired_at, heartbeat_at, expires_at). Taking
it is one atomic statement, the same on both databases::

    INSERT ... ON CONFLICT (run_id) DO UPDATE SET owner = ..., token = run_leases.token + 1
    WHERE run_leases.owner = '' OR run_leases.expires_at <= <now> OR run_leases.owner = :replace
    RETURNING token, ...

PostgreSQL takes the row lock of the conflicting row for the upsert, so of two hosts racing for
the same run one updates and the other re-evaluates the WHERE against the winner's row and gets
no row back; SQLite serialises writers. ``FOR UPDATE SKIP LOCKED`` would serve a queue of rows
to pick from; a lease names its run, so the upsert is the simpler exact fit. The row stays
after ``release`` (owner emptied) so that the token keeps rising across acquisitions: it is
the fencing token.

The clock is the database server's: ``statement_timestamp()`` on PostgreSQL (one instant per
statement, whatever host sent it), ``julianday('now')`` on SQLite (a local file: the one host's
clock is the only clock). Times are stored as epoch seconds (double precision), which compare
the same way on both databases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, text

from vitco.leases.protocol import Lease, LeaseStats, check_request

_NOW = {
    "postgresql": "extract(epoch from statement_timestamp())::float8",
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
}

_ACQUIRE = """
INSERT INTO run_leases (run_id, owner, token, acquired_at, heartbeat_at, expires_at)
VALUES (:run_id, :owner, 1, {now}, {now}, {now} + :ttl)
ON CONFLICT (run_id) DO UPDATE SET
    owner = excluded.owner,
    token = run_leases.token + 1,
    acquired_at = excluded.acquired_at,
    heartbeat_at = excluded.heartbeat_at,
    expires_at = excluded.expires_at
WHERE run_leases.owner = ''
    OR run_leases.expires_at <= excluded.acquired_at
    OR run_leases.owner = :replace
RETURNING token, acquired_at, heartbeat_at, expires_at, acquired_at
"""
_RENEW = """
UPDATE run_leases SET heartbeat_at = {now}, expires_at = {now} + :ttl
WHERE run_id = :run_id AND owner = :owner AND token = :token
RETURNING token, acquired_at, heartbeat_at, expires_at, heartbeat_at
"""
_RELEASE = """
UPDATE run_leases SET owner = '', expires_at = {now}
WHERE run_id = :run_id AND owner = :owner AND token = :token
"""
_COLUMNS = "run_id, owner, token, acquired_at, heartbeat_at, expires_at, {now}"
_INSPECT = "SELECT " + _COLUMNS + " FROM run_leases WHERE run_id = :run_id AND owner <> ''"
_EXPIRED = (
    "SELECT " + _COLUMNS + " FROM run_leases WHERE owner <> '' AND expires_at <= {now}"
    " ORDER BY expires_at"
)
_STATS = (
    "SELECT count(*), coalesce(max({now} - acquired_at), 0) FROM run_leases"
    " WHERE owner <> '' AND expires_at > {now}"
)


class SqlRunLease:
    """``RunLease`` on the store's database (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        now = _NOW.get(engine.dialect.name)
        if now is None:  # pragma: no cover - vitco's store runs on these two only
            raise NotImplementedError(f"no lease on {engine.dialect.name}")
        self._sql = {
            name: text(sql.format(now=now))
            for name, sql in {
                "acquire": _ACQUIRE,
                "renew": _RENEW,
                "release": _RELEASE,
                "inspect": _INSPECT,
                "expired": _EXPIRED,
                "stats": _STATS,
            }.items()
        }

    def acquire(
        self,
        run_id: str,
        owner: str,
        ttl_s: float,
        *,
        replace: str | None = None,
        then: Callable[[Connection, Lease], None] | None = None,
    ) -> Lease | None:
        """``RunLease.acquire``; ``then``: more writes of the acquiring transaction, given the
        lease (the run's fence, ``vitco.workflow.checkpoints.run_lock``): what it raises rolls
        the acquisition back too."""
        check_request(owner, ttl_s)
        params = {"run_id": run_id, "owner": owner, "ttl": float(ttl_s), "replace": replace}
        with self.engine.begin() as conn:
            row = conn.execute(self._sql["acquire"], params).first()
            lease = None if row is None else _lease(run_id, owner, row)
            if lease is not None and then is not None:
                then(conn, lease)
        return lease

    def renew(self, lease: Lease, ttl_s: float) -> Lease | None:
        check_request(lease.owner, ttl_s)
        params = {
            "run_id": lease.run_id,
            "owner": lease.owner,
            "token": lease.token,
            "ttl": float(ttl_s),
        }
        with self.engine.begin() as conn:
            row = conn.execute(self._sql["renew"], params).first()
        return None if row is None else _lease(lease.run_id, lease.owner, row)

    def release(self, lease: Lease) -> bool:
        with self.engine.begin() as conn:
            return self.release_in(conn, lease)

    def release_in(self, conn: Connection, lease: Lease) -> bool:
        """``release`` in ``conn``'s transaction (on this backend's database): the run's
        ending gives its lease back in the transaction that records it
        (``vitco.workflow.checkpoints.give_back_within``)."""
        params = {"run_id": lease.run_id, "owner": lease.owner, "token": lease.token}
        return conn.execute(self._sql["release"], params).rowcount > 0

    def inspect(self, run_id: str) -> Lease | None:
        with self.engine.connect() as conn:
            row = conn.execute(self._sql["inspect"], {"run_id": run_id}).first()
        return None if row is None else _full(row)

    def expired(self) -> list[Lease]:
        with self.engine.connect() as conn:
            return [_full(row) for row in conn.execute(self._sql["expired"])]

    def stats(self) -> LeaseStats:
        with self.engine.connect() as conn:
            row = conn.execute(self._sql["stats"]).one()
        return LeaseStats(held=int(row[0]), oldest_age_s=float(row[1]))


def _lease(run_id: str, owner: str, row: Sequence[Any]) -> Lease:
    """From (token, acquired_at, heartbeat_at, expires_at, now)."""
    token, acquired, heartbeat, expires, now = row
    return Lease(
        run_id, owner, int(token), float(acquired), float(heartbeat), float(expires), float(now)
    )


def _full(row: Sequence[Any]) -> Lease:
    run_id, owner, *rest = row
    return _lease(str(run_id), str(owner), rest)
