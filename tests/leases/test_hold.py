"""Holding a lease while a run executes: renewals, losing it, the local takeover of a dead
holder, and how owner ids are judged (every field of an owner id is hostile input)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from vitco.leases import Held, Lease, RunLease, take
from vitco.leases.owner import dead_here, machine, new_owner, start_time


def test_the_heartbeat_keeps_a_short_lease_alive(leases: RunLease) -> None:
    lease = take(leases, "r-1", 0.6)
    assert lease is not None
    held = Held(leases, lease, 0.6)
    try:
        time.sleep(1.5)  # more than twice the ttl
        assert not held.lost.is_set()
        assert take(leases, "r-1", 0.6) is None
        current = leases.inspect("r-1")
        assert current is not None and current.live and current.token == lease.token
        assert current.heartbeat_at > lease.heartbeat_at
    finally:
        held.close()
    assert leases.inspect("r-1") is None  # released on close


def test_a_lost_lease_is_noticed_and_reported(leases: RunLease) -> None:
    lease = take(leases, "r-1", 0.6)
    assert lease is not None
    called = threading.Event()
    held = Held(leases, lease, 0.6, on_lost=called.set)
    try:
        thief = leases.acquire("r-1", "elsewhere", 30, replace=lease.owner)
        assert thief is not None
        assert called.wait(2.0) and held.lost.is_set()
    finally:
        held.close()
    current = leases.inspect("r-1")  # close does not release what is no longer ours
    assert current is not None and current.owner == "elsewhere"


def test_a_lease_that_runs_out_just_after_refusing_the_take_is_taken(leases: RunLease) -> None:
    """The holder's lease is live when the take asks for it and has run out when the take
    looks at who holds it (a holder killed just under a ttl ago, on a loaded machine:
    ``vitco resume`` answered "being driven by another process right now (lease token 1, 0 s
    left unless renewed)"): the run is free, and the take gets it."""
    other = leases.acquire("r-1", "another-host/x/1-1/n", 0.4)  # never judged dead from here
    assert other is not None

    def acquire_as_the_lease_runs_out(
        run_id: str, owner: str, ttl_s: float, **more: object
    ) -> Lease | None:
        got = leases.acquire(run_id, owner, ttl_s, **more)  # type: ignore[arg-type]
        if got is None:
            time.sleep(0.6)  # refused; meanwhile the holder's lease runs out
        return got

    lease = take(leases, "r-1", 30, acquire=acquire_as_the_lease_runs_out)
    assert lease is not None and lease.token > other.token
    current = leases.inspect("r-1")
    assert current is not None and current.owner == lease.owner and current.live


class Flaky:
    """A lease backend whose server goes away after the lease was taken, and comes back."""

    def __init__(self, inner: RunLease) -> None:
        self.inner = inner
        self.away = threading.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def renew(self, lease: Lease, ttl_s: float) -> Lease | None:
        if self.away.is_set():
            raise ConnectionError("server away")
        return self.inner.renew(lease, ttl_s)


def test_a_lease_server_away_past_the_ttl_loses_nothing_if_nobody_took_over(
    leases: RunLease,
) -> None:
    lease = take(leases, "r-1", 0.6)
    assert lease is not None
    flaky = Flaky(leases)
    called = threading.Event()
    held = Held(flaky, lease, 0.6, on_lost=called.set)  # type: ignore[arg-type]
    try:
        flaky.away.set()
        time.sleep(1.2)  # twice the ttl without a renewal: expired on the server
        assert held.failures >= 2 and not called.is_set()
        flaky.away.clear()
        time.sleep(0.5)  # back: the next renewal finds the lease still its own
        assert held.failures == 0 and not held.lost.is_set()
        current = leases.inspect("r-1")
        assert current is not None and current.live and current.token == lease.token
        # ...but if another took the run over while it was away, the holder learns it
        flaky.away.set()
        time.sleep(0.8)
        thief = leases.acquire("r-1", "elsewhere", 30)
        assert thief is not None and thief.token > lease.token
        flaky.away.clear()
        assert called.wait(2.0) and held.lost.is_set()
    finally:
        held.close()


def test_a_dead_local_holder_is_taken_over_at_once(leases: RunLease) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        owner = f"host/{machine()}/{child.pid}-{start_time(child.pid)}/abcd1234"
        assert leases.acquire("r-1", owner, 30) is not None
        assert not dead_here(owner)
        assert take(leases, "r-1", 30) is None  # alive: its lease stands
    finally:
        child.kill()
        child.wait()
    assert dead_here(owner)
    assert take(leases, "r-1", 30, local_takeover=False) is None  # waits for the expiry
    mine = take(leases, "r-1", 30)
    assert mine is not None and mine.owner != owner


def test_holders_elsewhere_or_unparseable_are_never_judged_dead() -> None:
    me = new_owner()
    assert not dead_here(me)  # this very process
    pid, started = me.split("/")[2].split("-")
    assert int(pid) == os.getpid() and started == start_time(os.getpid())
    gone = f"h/{machine()}/999999999-1/n"
    assert dead_here(gone)
    for hostile in [
        "h/other-machine/999999999-1/n",  # another host or pid namespace: only expiry counts
        f"h/{machine()}/self-1/n",
        f"h/{machine()}/../../etc/passwd-1/n",
        f"h/{machine()}/-1/n",
        "no-slashes",
        "",
        f"h/{machine()}/1-x/n/extra",
    ]:
        assert not dead_here(hostile), hostile


def test_owner_ids_are_unique_per_acquisition() -> None:
    assert new_owner() != new_owner()
    assert len(new_owner()) <= 200


def test_a_lease_given_back_by_its_holder_is_not_renewed_nor_released_again(
    leases: RunLease,
) -> None:
    """``stop_renewing`` then ``given_back`` (the run's ending released it in a transaction
    of its own): no renewal after, and ``close`` releases nothing more; a holder that stopped
    renewing but did not give it back (that transaction failed) still releases on close."""
    lease = take(leases, "r-1", 0.3)
    assert lease is not None
    held = Held(leases, lease, 0.3, interval_s=0.05)
    assert held.stop_renewing() == held.lease
    time.sleep(0.5)  # past the ttl: not renewed since
    expired = leases.inspect("r-1")
    assert expired is not None and not expired.live
    held.close()

    given = take(leases, "r-2", 30)
    assert given is not None
    handed = Held(leases, given, 30)
    handed.stop_renewing()
    handed.given_back()
    handed.close()  # the caller said it gave it back: nothing is sent
    current = leases.inspect("r-2")
    assert current is not None and current.owner == given.owner

    other = take(leases, "r-3", 30)
    assert other is not None
    kept = Held(leases, other, 30)
    kept.stop_renewing()
    kept.close()  # not given back by the caller: released here
    assert leases.inspect("r-3") is None
