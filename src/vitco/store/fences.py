"""Fencing the store's writes for a run with its lease token.

Fencing: while a process drives a run it holds the run's lease (``vitco.leases``) and its
fencing token. ``raise_fence`` records the token as the run's newest; inside
``with store.fenced(run_id, token):`` every write for that run (a step's rows, events, tasks,
the run row, the ledger, side-effect records) checks, in its own transaction, that no newer
token has driven the run since, and ``FenceRefused`` is raised instead of writing if one has:
a worker paused past its lease (SIGSTOP) that wakes up after another took the run over records
nothing. On PostgreSQL the check reads the fence row ``FOR SHARE``, so a takeover that raises
the fence waits for a write in flight and the write sees it after; on SQLite the check first
takes the database's write lock. ``check_fence`` is the same check before something is done
that costs or shows (a model request, a side effect), so it is not even attempted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session, sessionmaker

from vitco.store.exceptions import FenceRefused

_RAISE = text(
    "INSERT INTO run_fences (run_id, token) VALUES (:run_id, :token)"
    " ON CONFLICT (run_id) DO UPDATE SET token = excluded.token"
    " WHERE run_fences.token <= excluded.token RETURNING token"
)
_FENCE_READ = text("SELECT token FROM run_fences WHERE run_id = :run_id")
_FENCE_SHARED = text("SELECT token FROM run_fences WHERE run_id = :run_id FOR SHARE")
# takes SQLite's write lock and reads the token in one statement
_FENCE_LOCK = text("UPDATE run_fences SET token = token WHERE run_id = :run_id RETURNING token")


class Fences:
    """The fencing part of ``Store`` (which sets ``sessions`` and ``_fences``)."""

    sessions: sessionmaker[Session]
    _fences: dict[str, int]  # run id -> the lease token this process drives it with

    @property
    def engine(self) -> Engine:
        engine: Engine = self.sessions.kw["bind"]
        return engine

    def raise_fence(self, run_id: str, token: int, conn: Connection | None = None) -> None:
        """Record ``token`` as the newest lease token of ``run_id``; ``FenceRefused`` if a
        newer one already drove it (this lease is stale before it starts). ``conn``: in that
        transaction (the lease's own, ``vitco.workflow.checkpoints.run_lock``), else in one
        of its own."""
        if conn is None:
            with self.engine.begin() as own:
                self.raise_fence(run_id, token, own)
            return
        if conn.execute(_RAISE, {"run_id": run_id, "token": token}).first() is None:
            raise FenceRefused(run_id, token, self._fence_of(conn, run_id))

    @contextmanager
    def fenced(self, run_id: str, token: int) -> Iterator[None]:
        """While the block runs, this store's writes for ``run_id`` carry ``token`` and are
        refused once a newer token has driven the run."""
        self._fences[run_id] = token
        try:
            yield
        finally:
            if self._fences.get(run_id) == token:
                del self._fences[run_id]

    def check_fence(self, run_id: str) -> None:
        """``FenceRefused`` now if this process's token for ``run_id`` is no longer the
        newest (nothing to check when the run is not fenced here)."""
        token = self._fences.get(run_id)
        if token is None:
            return
        with self.engine.connect() as conn:
            current = self._fence_of(conn, run_id)
        if current is not None and current > token:
            raise FenceRefused(run_id, token, current)

    def _fence(self, conn: Any, runs: Iterable[str | None]) -> None:
        """Inside a write transaction: refuse it if any of ``runs`` fenced here was taken
        over (the check holds until the transaction ends, see the module docstring)."""
        for run_id in {r for r in runs if r is not None and r in self._fences}:
            token = self._fences[run_id]
            params = {"run_id": run_id}
            if conn.dialect.name == "postgresql":
                current = conn.execute(_FENCE_SHARED, params).scalar()
            else:
                current = conn.execute(_FENCE_LOCK, params).scalar()
            if current is not None and current > token:
                raise FenceRefused(run_id, token, current)

    @staticmethod
    def _fence_of(conn: Any, run_id: str) -> int | None:
        current = conn.execute(_FENCE_READ, {"run_id": run_id}).scalar()
        return None if current is None else int(current)
