"""Holding a run's lease while the run executes: take it, renew it on a thread, give it back.

``take`` acquires the lease for this process (taking over at once from a holder on this machine
that is known dead, see ``vitco.leases.owner``); ``Held`` renews it every ``ttl / 3`` on a
daemon thread, so two renewals can fail (a database restart, a slow network) before it
expires. When a renewal finds the lease gone (another holder took it), ``Held`` sets ``lost``
and calls ``on_lost``: the run must stop and write nothing more (the store's fence refuses its
writes in any case, see ``Store.fenced``). A renewal that fails because the lease server is
away is retried every interval, however long: while the server is away nobody else can take
the lease either, and once it is back the renewal tells whether someone did (``renew``
succeeds on an expired lease that nobody acquired since). Whatever the run writes in between
goes through the store's fence, and model requests and side effects check it first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from vitco.leases.owner import dead_here, new_owner
from vitco.leases.protocol import Lease, RunLease

logger = logging.getLogger("vitco.leases")


def take(
    leases: RunLease, run_id: str, ttl_s: float, *, local_takeover: bool = True
) -> Lease | None:
    """The run's lease for a new owner id of this process, or None if another holds it."""
    owner = new_owner()
    lease = leases.acquire(run_id, owner, ttl_s)
    if lease is not None or not local_takeover:
        return lease
    holder = leases.inspect(run_id)
    if holder is not None and holder.live and dead_here(holder.owner):
        return leases.acquire(run_id, owner, ttl_s, replace=holder.owner)
    return None


class Held:
    """A lease this process holds, renewed on a thread until ``close`` (see the module
    docstring); ``interval_s`` defaults to a third of the ttl."""

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
        self._closing = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"vitco-lease-{lease.run_id}", daemon=True
        )
        self._thread.start()

    @property
    def token(self) -> int:
        return self.lease.token

    def _beat(self) -> None:
        while not self._closing.wait(self.interval_s):
            try:
                renewed = self.leases.renew(self.lease, self.ttl_s)
            except Exception as exc:  # the lease server is away: try again next time
                self.failures += 1
                logger.warning("lease of run %s not renewed: %s", self.lease.run_id, exc)
                continue
            if renewed is None:
                self._lose("another holder took the run over")
                return
            self.lease, self.failures = renewed, 0

    def _lose(self, why: str) -> None:
        logger.error("run %s lost its lease (token %s): %s", self.lease.run_id, self.token, why)
        self.lost.set()
        self.on_lost()

    def close(self) -> None:
        """Stop renewing and give the lease back (if it is still ours)."""
        self._closing.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        if not self.lost.is_set():
            try:
                self.leases.release(self.lease)
            except Exception as exc:  # it will expire by itself
                logger.warning("lease of run %s not released: %s", self.lease.run_id, exc)
