"""Holding a run's lease while the run executes: take it, renew it on a thread, give it back.

``take`` acquires the lease for this process (taking over at once from a holder on this machine
that is known dead, see ``vitco.leases.owner``); ``Held`` renews it every ``ttl / 3`` on a
daemon thread, so two renewals can fail (a database restart, a slow network) before it
expires. When a renewal finds the lease gone (another holder took it, or it expired), or the
renewals keep failing until the lease must have expired, ``Held`` sets ``lost`` and calls
``on_lost``: the run must stop and write nothing more (the store's fence refuses its writes in
any case, see ``Store.fenced``).
"""

from __future__ import annotations

import logging
import threading
import time
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
    docstring). ``clock`` is the monotonic clock that bounds how long renewals may keep
    failing; ``interval_s`` defaults to a third of the ttl."""

    def __init__(
        self,
        leases: RunLease,
        lease: Lease,
        ttl_s: float,
        *,
        on_lost: Callable[[], None] = lambda: None,
        interval_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.leases = leases
        self.lease = lease
        self.ttl_s = ttl_s
        self.on_lost = on_lost
        self.interval_s = interval_s if interval_s is not None else ttl_s / 3
        self.clock = clock
        self.lost = threading.Event()
        self._closing = threading.Event()
        # the local deadline is counted from before the call that set the lease: never later
        # than the server's own expiry
        self._deadline = clock() + ttl_s - (lease.now - lease.heartbeat_at)
        self._thread = threading.Thread(
            target=self._beat, name=f"vitco-lease-{lease.run_id}", daemon=True
        )
        self._thread.start()

    @property
    def token(self) -> int:
        return self.lease.token

    def _beat(self) -> None:
        while not self._closing.wait(self.interval_s):
            asked = self.clock()
            try:
                renewed = self.leases.renew(self.lease, self.ttl_s)
            except Exception as exc:  # the lease server is away: try again until the deadline
                if self.clock() >= self._deadline:
                    self._lose(f"renewals failed until it expired ({exc})")
                    return
                logger.warning("lease of run %s not renewed: %s", self.lease.run_id, exc)
                continue
            if renewed is None:
                self._lose("another holder has it or it expired")
                return
            self.lease, self._deadline = renewed, asked + self.ttl_s

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
