"""What a run lease is: one holder per run at a time, for a bounded time, with a fencing token.

A worker that executes a run holds the run's lease and renews it (``renew``) while it works;
a worker that dies stops renewing and, once ``expires_at`` has passed, another may ``acquire``
the run and resume it from its checkpoint. Each acquisition gets a fencing ``token`` greater
than every earlier one for that run, so a holder that was paused past its expiry (SIGSTOP, a
long GC, a VM migration) and wakes up still believing it holds the run can be told apart from
the new holder: the store refuses writes that carry an older token (``Store.fenced``).

Every time here is the lease server's clock (the database's ``now()``, Redis ``TIME``), never
the clock of the host asking: hosts' clocks drift, the server's is one clock for all holders.
Times are seconds since the epoch on that clock; ``now`` is the server's time when the lease
was read, so ``live`` and ``age_s`` need no local clock either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from vitco.leases.exceptions import BadLeaseRequest

MAX_OWNER = 200


@dataclass(frozen=True)
class Lease:
    """One acquisition of a run's lease, as the server last saw it."""

    run_id: str
    owner: str
    token: int
    acquired_at: float
    heartbeat_at: float
    expires_at: float
    now: float

    @property
    def live(self) -> bool:
        """Whether it had not expired when it was read."""
        return self.expires_at > self.now

    @property
    def age_s(self) -> float:
        """How long it had been held when it was read."""
        return max(0.0, self.now - self.acquired_at)


@dataclass(frozen=True)
class LeaseStats:
    """The live leases: how many, and the age of the oldest (0 when none): what an autoscaler
    and an alert on stuck runs look at."""

    held: int
    oldest_age_s: float


class RunLease(Protocol):
    """A lease per run, with fencing tokens (see the module docstring)."""

    def acquire(
        self, run_id: str, owner: str, ttl_s: float, *, replace: str | None = None
    ) -> Lease | None:
        """Take the run for ``ttl_s`` seconds if nobody holds it (no lease, released or
        expired), or if its holder is ``replace`` (a holder known dead, see
        ``vitco.leases.owner``); ``None`` when another holds it."""
        ...

    def renew(self, lease: Lease, ttl_s: float) -> Lease | None:
        """Extend ``lease`` to ``ttl_s`` seconds from now if it is still this holder's;
        ``None`` when it was lost (then the holder must stop writing). A lease that expired
        but that nobody acquired since is still this holder's (same owner, same token: no
        newer token exists) and is renewed: a holder cut off from the lease server for longer
        than the ttl goes on once it is back, unless another took the run meanwhile."""
        ...

    def release(self, lease: Lease) -> bool:
        """Give the run up (only this holder's own lease); whether it was still held."""
        ...

    def inspect(self, run_id: str) -> Lease | None:
        """The run's current lease, live or expired; ``None`` if never taken or released."""
        ...

    def expired(self) -> list[Lease]:
        """Every lease that expired without being released: runs whose holder is gone."""
        ...

    def stats(self) -> LeaseStats:
        """How many leases are live and the age of the oldest."""
        ...


def check_request(owner: str, ttl_s: float) -> None:
    """``BadLeaseRequest`` for an owner no lease can carry or a ttl that is not positive."""
    if not owner or len(owner) > MAX_OWNER:
        raise BadLeaseRequest("owner", owner, f"must be 1 to {MAX_OWNER} characters")
    if not ttl_s > 0 or ttl_s != ttl_s or ttl_s == float("inf"):
        raise BadLeaseRequest("ttl_s", ttl_s, "must be a positive number of seconds")
