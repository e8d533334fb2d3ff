"""One conformance suite for every ``RunLease``: the database row (SQLite, PostgreSQL) and
Redis. Leases are short (a fraction of a second) so expiry is observed, not simulated."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vitco.leases import BadLeaseRequest, Lease, RunLease, lease_stats
from vitco.store import FenceRefused, Store
from vitco.store.models import ModelCall

SHORT = 0.3  # seconds: a lease that expires within the test
LONG = 30.0


def _expire(lease: Lease) -> None:
    """Wait (on this host's clock) until ``lease`` has expired on the server's."""
    time.sleep(max(0.0, lease.expires_at - lease.now) + 0.15)


def test_acquire_is_exclusive(leases: RunLease) -> None:
    a = leases.acquire("r-1", "worker-a", LONG)
    assert a is not None and a.owner == "worker-a" and a.live
    assert a.expires_at - a.acquired_at == pytest.approx(LONG, abs=0.01)
    assert leases.acquire("r-1", "worker-b", LONG) is None
    assert leases.acquire("r-1", "worker-a", LONG) is None  # not re-entrant either
    held = leases.inspect("r-1")
    assert held is not None and (held.owner, held.token) == ("worker-a", a.token)
    other = leases.acquire("r-2", "worker-b", LONG)  # another run is another lease
    assert other is not None and other.owner == "worker-b"


def test_renew_extends_and_keeps_the_token(leases: RunLease) -> None:
    a = leases.acquire("r-1", "worker-a", SHORT)
    assert a is not None
    renewed = leases.renew(a, LONG)
    assert renewed is not None
    assert renewed.token == a.token and renewed.acquired_at == pytest.approx(a.acquired_at)
    assert renewed.expires_at > a.expires_at + LONG / 2
    time.sleep(SHORT + 0.15)  # past the first expiry: still held thanks to the renewal
    assert leases.acquire("r-1", "worker-b", LONG) is None
    assert leases.expired() == []


def test_renew_by_a_non_owner_or_an_old_token_fails(leases: RunLease) -> None:
    a = leases.acquire("r-1", "worker-a", LONG)
    assert a is not None
    impostor = Lease(
        a.run_id, "worker-b", a.token, a.acquired_at, a.heartbeat_at, a.expires_at, a.now
    )
    assert leases.renew(impostor, LONG) is None
    old_token = Lease(
        a.run_id, a.owner, a.token - 1, a.acquired_at, a.heartbeat_at, a.expires_at, a.now
    )
    assert leases.renew(old_token, LONG) is None
    assert leases.release(impostor) is False
    held = leases.inspect("r-1")
    assert held is not None and held.owner == "worker-a"


def test_expiry_lets_another_owner_take_it_with_a_higher_token(leases: RunLease) -> None:
    a = leases.acquire("r-1", "worker-a", SHORT)
    assert a is not None
    _expire(a)
    (expired,) = leases.expired()
    assert (expired.run_id, expired.owner, expired.token) == ("r-1", "worker-a", a.token)
    assert not expired.live
    b = leases.acquire("r-1", "worker-b", LONG)
    assert b is not None and b.token > a.token
    assert leases.expired() == []
    assert leases.renew(a, LONG) is None
    assert leases.release(a) is False  # the old holder cannot release the new one's lease
    held = leases.inspect("r-1")
    assert held is not None and (held.owner, held.token) == ("worker-b", b.token)


def test_an_expired_lease_nobody_took_is_renewed_with_its_token(leases: RunLease) -> None:
    # a holder cut off from the lease server for longer than the ttl, back before anyone
    # acquired the run: no newer token exists, so it still holds the run
    a = leases.acquire("r-1", "worker-a", SHORT)
    assert a is not None
    _expire(a)
    revived = leases.renew(a, LONG)
    assert revived is not None and revived.token == a.token and revived.live
    assert leases.expired() == []
    assert leases.acquire("r-1", "worker-b", LONG) is None


def test_a_runs_tokens_keep_rising_whoever_takes_it(leases: RunLease) -> None:
    tokens: dict[str, list[int]] = {"r-0": [], "r-1": []}
    for i in range(6):
        run_id = f"r-{i % 2}"
        got = leases.acquire(run_id, f"worker-{i}", SHORT)
        assert got is not None
        tokens[run_id].append(got.token)
        assert leases.release(got)
    for run_tokens in tokens.values():
        assert run_tokens == sorted(set(run_tokens))  # strictly rising


def test_release_frees_it_at_once_and_is_not_an_expiry(leases: RunLease) -> None:
    a = leases.acquire("r-1", "worker-a", LONG)
    assert a is not None
    assert leases.release(a) is True
    assert leases.release(a) is False
    assert leases.inspect("r-1") is None
    assert leases.expired() == []  # released: nobody has to resume it
    b = leases.acquire("r-1", "worker-b", LONG)
    assert b is not None and b.token > a.token


def test_replace_takes_over_only_from_the_named_holder(leases: RunLease) -> None:
    a = leases.acquire("r-1", "worker-a", LONG)
    assert a is not None
    assert leases.acquire("r-1", "worker-b", LONG, replace="worker-c") is None
    b = leases.acquire("r-1", "worker-b", LONG, replace="worker-a")
    assert b is not None and b.token > a.token
    assert leases.renew(a, LONG) is None


def test_one_winner_when_many_race(leases: RunLease) -> None:
    start = threading.Barrier(8)
    won: list[Lease] = []

    def race(i: int) -> None:
        start.wait()
        got = leases.acquire("r-race", f"worker-{i}", LONG)
        if got is not None:
            won.append(got)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(won) == 1


def test_the_clock_is_the_servers(leases: RunLease, monkeypatch: pytest.MonkeyPatch) -> None:
    real = time.time()
    monkeypatch.setattr(time, "time", lambda: real + 3600.0)  # this host's clock an hour off
    a = leases.acquire("r-1", "worker-a", LONG)
    assert a is not None
    assert abs(a.now - real) < 60  # the server's clock, not the skewed local one
    assert a.live


def test_stats_count_live_leases_and_the_oldest_age(leases: RunLease) -> None:
    assert lease_stats(leases).held == 0
    assert lease_stats(leases).oldest_age_s == 0
    first = leases.acquire("r-1", "worker-a", LONG)
    time.sleep(0.2)
    assert leases.acquire("r-2", "worker-b", LONG) is not None
    gone = leases.acquire("r-3", "worker-c", SHORT)
    assert first is not None and gone is not None
    _expire(gone)
    stats = lease_stats(leases)
    assert stats.held == 2  # the expired one is not held
    assert 0.2 <= stats.oldest_age_s < 10


BAD = [("", LONG, "owner"), ("x" * 201, LONG, "owner"), ("w", 0, "ttl_s"), ("w", -1, "ttl_s"),
       ("w", math.nan, "ttl_s"), ("w", math.inf, "ttl_s")]  # fmt: skip
HOSTILE = ["r-'; DROP TABLE run_leases; --", "r-*", "r-1:lease-token", "../r-1", "r-\u00e9\u4e2d"]


def test_bad_requests_are_refused_by_name(leases: RunLease) -> None:
    for owner, ttl, field in BAD:
        with pytest.raises(BadLeaseRequest) as refused:
            leases.acquire("r-1", owner, ttl)
        assert refused.value.field == field, (owner, ttl)
    assert leases.inspect("r-1") is None  # nothing taken
    good = leases.acquire("r-1", "w", LONG)
    assert good is not None
    with pytest.raises(BadLeaseRequest):
        leases.renew(good, 0)
    assert leases.renew(good, LONG) is not None


def test_hostile_run_ids_are_plain_keys(leases: RunLease) -> None:
    assert leases.acquire("r-1", "worker-b", LONG) is not None
    for run_id in HOSTILE:
        a = leases.acquire(run_id, "worker-a", LONG)
        assert a is not None and a.run_id == run_id
        assert leases.acquire(run_id, "worker-b", LONG) is None
        held = leases.inspect(run_id)
        assert held is not None and held.owner == "worker-a"
    held = leases.inspect("r-1")  # no other lease was touched
    assert held is not None and held.owner == "worker-b"
    assert leases.stats().held == len(HOSTILE) + 1


def _run(store: Store, tmp_path: Path) -> tuple[str, str]:
    project = store.create_project("todo", str(tmp_path / "repo"))
    brief = store.create_brief(project.id, "cli", "A todo API.")
    return project.id, store.create_run(project.id, brief.id, "test", "deliver-project").id


def _call(project_id: str, run_id: str, key: str) -> ModelCall:
    return ModelCall(
        run_id=run_id, project_id=project_id, call_key=key, role="developer", step="implement",
        model="test", fingerprint="f", input_tokens=1, output_tokens=1, cost_usd=0.0, latency_s=0.0,
        response="ok", outcome="ok",
    )  # fmt: skip


def test_a_stale_holders_writes_are_refused_by_the_fence(
    backend: tuple[RunLease, Store], tmp_path: Path
) -> None:
    leases, store = backend
    project_id, run_id = _run(store, tmp_path)
    old = leases.acquire(run_id, "worker-a", SHORT)
    assert old is not None
    store.raise_fence(run_id, old.token)
    stale = Store(store.sessions)  # worker A's own store (another process in real life)
    with stale.fenced(run_id, old.token):
        stale.update_run(run_id, status="running")
        stale.record_call(_call(project_id, run_id, "a#1"))
        _expire(old)  # A is paused past its lease...
        new = leases.acquire(run_id, "worker-b", LONG)  # ...B takes the run over
        assert new is not None and new.token > old.token
        store.raise_fence(run_id, new.token)
        with store.fenced(run_id, new.token):
            store.record_call(_call(project_id, run_id, "b#1"))
            store.update_run(run_id, status="delivered")

        # A wakes up: every kind of write it could make for the run is refused
        done: list[str] = []
        task = {"key": "T9", "title": "t", "role": "developer", "complexity": 1}

        def mail() -> dict[str, str]:
            done.append("mail")
            return {}

        attempts: dict[str, Callable[[], object]] = {
            "run row": lambda: stale.update_run(run_id, status="interrupted"),
            "ledger": lambda: stale.record_call(_call(project_id, run_id, "a#2")),
            "event": lambda: stale.add_event(run_id, "run", "A was here"),
            "artifact": lambda: stale.put_artifact(run_id, "spec", {"a": 1}),
            "tasks": lambda: stale.add_tasks(run_id, [task]),
            "side effect": lambda: stale.once(run_id, "mail:1", mail),
            "check": lambda: stale.check_fence(run_id),
        }  # fmt: skip
        for what, attempt in attempts.items():
            with pytest.raises(FenceRefused) as refused:
                attempt()
            assert (refused.value.token, refused.value.current) == (old.token, new.token), what
        with pytest.raises(FenceRefused), stale.step():  # a step's held writes, all or nothing
            stale.add_event(run_id, "step", "held")
            stale.update_task(run_id, "T1", status="done")
        # an older token can never raise the fence back
        with pytest.raises(FenceRefused):
            stale.raise_fence(run_id, old.token)

    assert done == []  # the side effect was not even attempted
    assert store.get_run(run_id).status == "delivered"
    assert [c.call_key for c in store.calls(run_id=run_id)] == ["a#1", "b#1"]
    assert [e.message for e in store.events(run_id)] == []
    assert store.artifacts(run_id) == [] and store.tasks(run_id) == []
    assert store.get_effect("mail:1") is None
    # the store outside any fence (the API, the CLI) still writes as before
    store.add_event(run_id, "note", "unfenced")
    assert [e.message for e in store.events(run_id)] == ["unfenced"]


def test_a_holders_first_writes_go_with_the_lease_or_not_at_all(
    backend: tuple[RunLease, Store], tmp_path: Path
) -> None:
    """``run_lock``'s ``then`` (the run's start): written in the lease's own transaction when
    the leases are the store's, after the fence otherwise; either way, a fence already past
    the lease refuses the run and nothing of ``then`` is written."""
    from vitco.config import Settings
    from vitco.workflow.checkpoints import run_lock
    from vitco.workflow.exceptions import RunBusy

    leases, store = backend
    settings = Settings(home=tmp_path / "home")
    _, run_id = _run(store, tmp_path)

    def start(conn: Any) -> None:
        store.update_run_and_say(run_id, ("run", "started"), conn=conn, status="running")

    with run_lock(settings, store, run_id, leases=leases, then=start) as held:
        assert store.get_run(run_id).status == "running"
        assert [e.message for e in store.events(run_id)] == ["started"]
        token = held.token
    store.update_run(run_id, status="queued")
    store.raise_fence(run_id, max(token * 2, 2**62))  # driven meanwhile under a newer token
    with pytest.raises(RunBusy), run_lock(settings, store, run_id, leases=leases, then=start):
        pass
    assert store.get_run(run_id).status == "queued"
    assert [e.message for e in store.events(run_id)] == ["started"]
    assert leases.inspect(run_id) is None
