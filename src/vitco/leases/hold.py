"""Holding a run's lease while the run executes: take it, renew it, give it back.

``take`` acquires the lease for this process (taking over at once from a holder on this machine
that is known dead, see ``vitco.leases.owner``); ``Held`` renews it every ``ttl / 3``, so two
renewals can fail (a database restart, a slow network) before it expires. When a renewal finds
the lease gone (another holder took it), ``Held`` sets ``lost`` and calls ``on_lost``: the run
must stop and write nothing more (the store's fence refuses its writes in any case, see
``Store.fenced``). A renewal that fails because the lease server is away is retried every
interval, however long: while the server is away nobody else can take the lease either, and
once it is back the renewal tells whether someone did (``renew`` succeeds on an expired lease
that nobody acquired since). Whatever the run writes in between goes through the store's
fence, and model requests and side effects check it first.

The leases a process holds on one backend are renewed by one heartbeat thread (``_Heartbeat``),
each when it falls due, not by a thread per run: starting and joining a thread for every run
cost about a tenth of a trivial run's CPU. The thread ends once it has held nothing for
``LINGER_S`` and is started again by the next ``Held``. ``close`` waits for a renewal of its own
lease in flight before giving the lease back, so none is renewed after it was released.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import weakref
from collections.abc import Callable

from vitco.leases.owner import dead_here, new_owner
from vitco.leases.protocol import Lease, RunLease

logger = logging.getLogger("vitco.leases")

LINGER_S = 5.0
"""How long a heartbeat thread with nothing to renew waits for the next lease before ending:
a worker's runs follow one another, and each would otherwise start the thread again."""


def take(
    leases: RunLease,
    run_id: str,
    ttl_s: float,
    *,
    local_takeover: bool = True,
    acquire: Callable[..., Lease | None] | None = None,
) -> Lease | None:
    """The run's lease for a new owner id of this process, or None if another holds it.
    ``acquire``: ``leases.acquire`` with more arguments of the backend's bound (the SQL
    backend's ``then``)."""
    acquire = acquire if acquire is not None else leases.acquire
    owner = new_owner()
    lease = acquire(run_id, owner, ttl_s)
    if lease is not None or not local_takeover:
        return lease
    holder = leases.inspect(run_id)
    if holder is None or not holder.live:  # given back or run out since the refusal: free
        return acquire(run_id, owner, ttl_s)
    if dead_here(holder.owner):
        return acquire(run_id, owner, ttl_s, replace=holder.owner)
    return None


class Held:
    """A lease this process holds, renewed by its backend's heartbeat until ``close`` (see the
    module docstring); ``interval_s`` defaults to a third of the ttl."""

    def __init__(
        self,
        leases: RunLease,
        lease: Lease,
        ttl_s: float,
        *,
        on_lost: Callable[[], None] = lambda: None,
        interval_s: float | None = None,
    ) -> None:
        self.leases = leases
        self.lease = lease
        self.ttl_s = ttl_s
        self.on_lost = on_lost
        self.interval_s = interval_s if interval_s is not None else ttl_s / 3
        self.lost = threading.Event()
        self.failures = 0  # renewals in a row that could not reach the lease server
        self._closed = False  # renewed no more
        self._given_back = False  # released (or being released)
        self._renewing = threading.RLock()  # held by a renewal in flight; on_lost may close
        _heartbeat(leases).add(self)

    @property
    def token(self) -> int:
        return self.lease.token

    def _beat(self) -> bool:
        """Renew once (on the heartbeat thread); whether to go on renewing."""
        with self._renewing:
            if self._closed or self.lost.is_set():
                return False
            try:
                renewed = self.leases.renew(self.lease, self.ttl_s)
            except Exception as exc:  # the lease server is away: try again next time
                self.failures += 1
                logger.warning("lease of run %s not renewed: %s", self.lease.run_id, exc)
                return True
            if renewed is None:
                self._lose("another holder took the run over")
                return False
            self.lease, self.failures = renewed, 0
            return True

    def _lose(self, why: str) -> None:
        logger.error("run %s lost its lease (token %s): %s", self.lease.run_id, self.token, why)
        self.lost.set()
        self.on_lost()

    def stop_renewing(self) -> Lease | None:
        """Stop renewing (after a renewal in flight, before any other) without giving the
        lease back: the caller gives it back in a transaction of its own and says so
        (:meth:`given_back`), else ``close`` gives it back. Returns the lease, None if it was
        lost."""
        with self._renewing:
            self._closed = True
        return None if self.lost.is_set() else self.lease

    def given_back(self) -> None:
        """The lease was given back by the caller (see :meth:`stop_renewing`)."""
        with self._renewing:
            self._closed = self._given_back = True

    def close(self) -> None:
        """Stop renewing and give the lease back (if it is still ours and was not given
        back already)."""
        with self._renewing:  # after a renewal in flight, before any other
            self._closed = True
            if self._given_back:
                return
            self._given_back = True
        if not self.lost.is_set():
            try:
                self.leases.release(self.lease)
            except Exception as exc:  # it will expire by itself
                logger.warning("lease of run %s not released: %s", self.lease.run_id, exc)


class _Heartbeat:
    """One thread that renews the leases held on one backend, each when it is due."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._due: list[tuple[float, int, Held]] = []  # a heap by due time
        self._order = itertools.count()  # ties: the one held first
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, held: Held) -> None:
        with self._wake:
            self._push(held)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            elif self._due[0][2] is held:  # due before the others: the thread waits too long
                self._wake.notify()

    def _push(self, held: Held) -> None:
        heapq.heappush(self._due, (time.monotonic() + held.interval_s, next(self._order), held))

    def _next(self) -> Held | None:
        """The next lease due, once it is; None when nothing came for ``LINGER_S`` (the
        thread ends: the caller holds the condition)."""
        idle_since: float | None = None
        while True:
            while self._due and self._due[0][2]._closed:
                heapq.heappop(self._due)
            now = time.monotonic()
            if not self._due:
                idle_since = now if idle_since is None else idle_since
                if now - idle_since >= LINGER_S:
                    self._thread = None
                    return None
                self._wake.wait(LINGER_S - (now - idle_since))
                continue
            idle_since = None
            due = self._due[0][0]
            if due <= now:
                return heapq.heappop(self._due)[2]
            self._wake.wait(due - now)

    def _run(self) -> None:
        while True:
            with self._wake:
                held = self._next()
            if held is None:
                return
            if held._beat():
                with self._wake:
                    self._push(held)


_heartbeats: weakref.WeakKeyDictionary[RunLease, _Heartbeat] = weakref.WeakKeyDictionary()
_heartbeats_lock = threading.Lock()


def _heartbeat(leases: RunLease) -> _Heartbeat:
    """The heartbeat of ``leases`` in this process."""
    with _heartbeats_lock:
        beat = _heartbeats.get(leases)
        if beat is None:
            beat = _heartbeats[leases] = _Heartbeat(f"vitco-lease-heartbeat-{id(leases):x}")
        return beat
