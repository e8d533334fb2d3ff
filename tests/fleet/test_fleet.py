"""The fleet (issue 13's acceptance): two ``vitco serve`` and three ``vitco worker`` processes
on a fresh PostgreSQL schema and a fresh Redis keyspace, 30 demo-sized runs submitted through
the API of instance A, a worker that holds runs killed with ``kill -9`` mid-run, twice (each
time a new worker is started in its place, as a supervisor would). Then:

- all 30 runs are delivered;
- nothing is done twice: per run, each model call of the cassette is in the cost ledger once
  (none paid twice), one commit per task, one deployment record, one delivery mail, no
  call, commit, test result or side effect reported twice (``tests.effects``);
- a WebSocket client of instance B, connected before the first run, receives every event of
  every run, in order, each once, with the numbers the store gave them;
- each run the killed worker held is taken over by another worker within 15 s of the kill (the
  10 s lease: the workers are told not to take the shortcut of a dead local pid,
  ``VITCO_LEASE_LOCAL_TAKEOVER=false``, so they behave as on other hosts and the lease has to
  expire).

"Demo-sized" here: the demo's brief, template (``deliver-project``) and cassette (17 model
calls: spec, its check and revision, plan, three tasks with a fix loop on T2, deploy), each call
answered after ``LATENCY_S`` as a provider would (so the kills land mid-run), with every step's
real code; only the ``python-service`` toolchain's sandboxed commands (pytest of the project,
its app started and smoke-tested) are a stand-in that checks the same thing in the sandbox in
milliseconds (``tests.standin``): they would make this test about this machine's two
cores instead of the fleet.

Measured on the 2-core machine while other test suites ran (load average 7-15): the 30 runs
take 100-125 s and the whole test 150-170 s, about 100 CPU-seconds in all (workers ~50,
API instances ~12); orphans are taken over 8-12 s after the kill. With ``-s`` it prints
these figures.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.effects import assert_delivered_once
from tests.processes import Worker, fleet_env, serve, start_worker, stop
from tests.standin import PRELUDE
from vitco.api.keys import issue
from vitco.cli.run import DEMO_BRIEF
from vitco.client import VitcoClient
from vitco.store import AccessStore, Store, open_database
from vitco.store.repo import TERMINAL

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("sandbox"), pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"
RUNS = 30
WORKERS = 3
CONCURRENCY = 4
LATENCY_S = 0.3  # each model call; 17 calls make a run last ~6 s of model time
LEASE_S = 10.0  # the default lease: what "within the lease" is measured against
TAKEOVER_S = 15.0  # the issue's bound, kill to the next holder's acquisition


@dataclass
class Feed:
    """What a WebSocket client of one API instance received, reconnecting with ``since``
    when the server drops it for lagging (the documented way to resume)."""

    url: str
    key: str
    got: list[dict[str, Any]] = field(default_factory=list)
    closes: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    connected: threading.Event = field(default_factory=threading.Event)

    def read(self) -> None:
        while not self.done.is_set():
            since = self.got[-1]["seq"] if self.got else 0
            ws_url = self.url.replace("http://", "ws://") + f"/v1/events?since={since}"
            headers = {"Authorization": f"Bearer {self.key}"}
            with connect(ws_url, additional_headers=headers) as ws:
                self.connected.set()
                while not self.done.is_set():
                    try:
                        self.got.append(json.loads(ws.recv(timeout=0.5)))
                    except TimeoutError:
                        continue
                    except ConnectionClosed as closed:
                        self.closes.append(str(closed))
                        break


@dataclass
class Kill:
    pid: int
    at: float  # epoch seconds, this host's clock (the database's is the same one)
    orphans: dict[str, int]  # run id -> the killed worker's lease token
    expiring_s: dict[str, float]  # run id -> its lease's expiry, seconds after the kill
    taken_over_s: dict[str, float] = field(default_factory=dict)


def _pid(owner: str) -> int:
    """The pid in a lease owner id ``host/machine/pid-start/nonce``."""
    return int(owner.split("/")[2].split("-")[0])


def _leases(
    engine: Engine, column: str = "expires_at", held: bool = True
) -> list[tuple[str, str, int, float]]:
    """The held leases (``held``; else also those given back since, which keep their token
    and acquisition time): (run id, owner, token, ``column``: a time in epoch seconds)."""
    where = " WHERE owner <> ''" if held else ""
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT run_id, owner, token, {column} FROM run_leases{where}")
        ).all()
    return [(r[0], r[1], int(r[2]), float(r[3])) for r in rows]


def _statuses(engine: Engine, run_ids: list[str]) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status FROM runs")).all()
    return {r[0]: r[1] for r in rows if r[0] in run_ids}


def _until(what: str, check: Callable[[], bool], within_s: float, poll_s: float = 0.1) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within_s} s: {what}")
        time.sleep(poll_s)


def _kill_one_holding_runs(
    workers: list[Worker], engine: Engine, store: Store, spared: set[int]
) -> Kill:
    """``kill -9`` the worker that holds the most running runs right now (not one in
    ``spared``); the runs it held are the orphans to be taken over."""
    pids = {w.process.pid for w in workers if w.process.poll() is None} - spared
    deadline = time.monotonic() + 60
    while True:
        held = Counter(_pid(owner) for _run, owner, _token, _at in _leases(engine))
        held = Counter({pid: n for pid, n in held.items() if pid in pids})
        if held:
            break
        assert time.monotonic() < deadline, "no worker held a running run for 60 s"
        time.sleep(0.2)
    victim = held.most_common(1)[0][0]
    os.kill(victim, signal.SIGKILL)
    at = time.time()
    for w in workers:
        if w.process.pid == victim:
            w.process.wait(10)
    # dead: what it held stays as it was at the kill
    mine = [(r, token, exp) for r, owner, token, exp in _leases(engine) if _pid(owner) == victim]
    orphans = {r: token for r, token, _exp in mine if store.get_run(r).status == "running"}
    assert orphans, "the killed worker held no running run"
    return Kill(victim, at, orphans, {r: exp - at for r, token, exp in mine if r in orphans})


def _wait_taken_over(kill: Kill, engine: Engine) -> None:
    """Each orphan's lease acquired again (a higher token), by another process; records
    kill -> acquisition per run (the database's acquisition time). Given back counts too: a
    run taken over near its end may be delivered, and its lease given back, between two
    looks (the test failed so once runs got faster)."""

    def check() -> bool:
        for run_id, _owner, token, acquired_at in _leases(engine, "acquired_at", held=False):
            if run_id in kill.orphans and token > kill.orphans[run_id]:
                kill.taken_over_s.setdefault(run_id, acquired_at - kill.at)
        return set(kill.taken_over_s) == set(kill.orphans)

    _until(f"runs of pid {kill.pid} taken over", check, TAKEOVER_S + 30, poll_s=0.2)


def _explain(store: Store, run_id: str, kills: list[Kill], exc: AssertionError) -> str:
    """What a failing run did: its kills, its ledger and its events, for the report."""
    orphaned = [i for i, k in enumerate(kills, 1) if run_id in k.orphans]
    calls = [
        f"  #{c.id} {c.call_key} {c.fingerprint[:8]} {c.outcome}"
        for c in sorted(store.calls(run_id=run_id), key=lambda c: c.id)
    ]
    events = [
        f"  {e.id} {e.ts:%H:%M:%S.%f} {e.kind} {e.step or ''} {e.task or ''} {e.message[:90]}"
        for e in store.events(run_id)
    ]
    return "\n".join(
        [f"run {run_id} (orphaned by kill {orphaned}): {exc}", "ledger:", *calls,
         "events:", *events]
    )  # fmt: skip


def _cpu_s(pid: int) -> float:
    """CPU seconds of process ``pid`` and its waited-for children (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _stop_all(workers: list[Worker]) -> None:
    """SIGTERM every worker at once, then wait for each (they drain in parallel)."""
    for w in workers:
        if w.process.poll() is None:
            w.process.terminate()
    for w in workers:
        stop(w.process)


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@pytest.fixture
def logs(short_home: Path) -> Iterator[Path]:
    where = short_home.parent / f"{short_home.name}-logs"
    where.mkdir()
    yield where
    for log in sorted(where.glob("*.log")):
        os.unlink(log)
    where.rmdir()


def test_two_apis_three_workers_thirty_runs_two_kills(
    postgres_url: str, redis_prefix: str, short_home: Path, logs: Path
) -> None:
    sessions = open_database(postgres_url)
    access = AccessStore(sessions)
    access.create_tenant("acme", "Acme")
    key = issue(access, "acme", "manager")[1]
    store = Store(sessions)
    engine = store.engine
    # one data dir for every process, as a shared volume: repositories and the outbox
    prefix = redis_prefix + "queue:"  # the fixture removes these keys afterwards
    api_env = fleet_env(
        short_home, postgres_url, REDIS_URL, queue_prefix=prefix, api=True,
        PYTHONPATH=str(ROOT), VITCO_API_RATE_BURST="100000",
    )  # fmt: skip
    worker_env = fleet_env(
        short_home, postgres_url, REDIS_URL, queue_prefix=prefix, PYTHONPATH=str(ROOT),
        VITCO_REPLAY_LATENCY_S=str(LATENCY_S), VITCO_LEASE_TTL_S=str(LEASE_S),
        VITCO_LEASE_LOCAL_TAKEOVER="false",
    )  # fmt: skip
    workers: list[Worker] = []
    kills: list[Kill] = []
    phases: list[float] = []  # seconds from the start to each kill's takeovers
    began = time.monotonic()
    with ExitStack() as stack:

        def add_worker() -> None:
            n = len(workers)
            log = logs / f"worker-{n}.log"
            workers.append(start_worker(worker_env, log, CONCURRENCY, prelude=PRELUDE))

        stack.callback(_stop_all, workers)
        for _ in range(WORKERS):  # they start while the API instances do
            add_worker()
        a = stack.enter_context(serve(api_env, logs / "api-a.log"))
        b = stack.enter_context(serve(api_env, logs / "api-b.log"))
        feed = Feed(b.url, key)
        reader = threading.Thread(target=feed.read, daemon=True)
        reader.start()
        stack.callback(reader.join, 10)
        stack.callback(feed.done.set)
        assert feed.connected.wait(30), "instance B's WebSocket did not open"

        api = stack.enter_context(VitcoClient.connect(a.url, key))
        brief = DEMO_BRIEF.read_text(encoding="utf-8")
        run_ids = [api.start_run(api.create_project(brief).id).id for _ in range(RUNS)]

        def statuses() -> dict[str, str]:
            return _statuses(engine, run_ids)

        submitted = time.monotonic() - began
        _until("3 runs delivered", lambda: Counter(statuses().values())["delivered"] >= 3, 90, 0.5)
        first = time.monotonic() - began

        def all_ended() -> bool:
            return all(s in TERMINAL for s in statuses().values())

        try:
            for _ in range(2):  # kill -9 a worker holding runs; a new one starts in its place
                kill = _kill_one_holding_runs(workers, engine, store, {k.pid for k in kills})
                kills.append(kill)
                add_worker()
                _wait_taken_over(kill, engine)
                phases.append(round(time.monotonic() - began, 1))
            _until("all runs ended", all_ended, 180, poll_s=0.5)
        except AssertionError as exc:
            tails = "\n".join(f"== {p.name}\n{_tail(p)}" for p in sorted(logs.glob("*.log")))
            orphans = {r: store.get_run(r).status for k in kills for r in k.orphans}
            stuck = [
                f"{r}: {e.id} {e.ts:%H:%M:%S.%f} {e.kind} {e.message[:150]}"
                for r, status in orphans.items()
                if status == "running"
                for e in store.events(r)[-12:]
            ]
            raise AssertionError(
                f"{exc}\n{Counter(statuses().values())}; orphans {orphans}; kills "
                f"{[(time.strftime('%H:%M:%S', time.gmtime(k.at)), k.pid) for k in kills]}; "
                f"leases {_leases(engine)}\n" + "\n".join(stuck) + f"\n{tails}"
            ) from None
        wall = time.monotonic() - began
        cpu = {
            "workers": round(sum(_cpu_s(w.process.pid) for w in workers), 1),
            "apis": round(_cpu_s(a.process.pid) + _cpu_s(b.process.pid), 1),
            "test": round(_cpu_s(os.getpid()), 1),
        }
        _stop_all(workers)  # nothing writes any more: what is stored is all there is
        stored = {run_id: store.events(run_id) for run_id in run_ids}
        total = sum(len(events) for events in stored.values())

        def all_heard() -> bool:
            return sum(1 for e in feed.got if e["run_id"] in stored) >= total

        _until("instance B's client has every event", all_heard, 30)

    figures = {r: round(took, 1) for kill in kills for r, took in kill.taken_over_s.items()}
    print(  # the figures, with -s
        f"fleet: {RUNS} runs in {wall:.0f} s (submitted at {submitted:.0f} s, 3 delivered at "
        f"{first:.0f} s, kills taken over at {phases} s); {len(figures)} orphans taken over after "
        f"{sorted(figures.values())} s (their leases expired after "
        f"{sorted(round(e, 1) for k in kills for e in k.expiring_s.values())} s); "
        f"CPU s {cpu}; WebSocket reconnects {len(feed.closes)}"
    )

    # all 30 delivered, nothing done twice (tests.effects: ledger, commits, events, mail)
    ended = statuses()
    why = {r: (s, store.get_run(r).reason) for r, s in ended.items() if s != "delivered"}
    assert Counter(ended.values()) == {"delivered": RUNS}, why
    problems = {}
    for run_id in run_ids:
        try:
            assert_delivered_once(store, run_id, [short_home / "outbox"])
            assert len(store.artifacts(run_id, "deployment")) == 1, "deployments"
        except AssertionError as exc:
            problems[run_id] = _explain(store, run_id, kills, exc)
    assert not problems, "\n\n".join(problems.values())

    # every event of every run reached the client of the other instance, in order, once
    heard = [e for e in feed.got if e["run_id"] in stored]
    seqs = [e["seq"] for e in heard]
    assert seqs == sorted(set(seqs)), "out of order or repeated"
    for run_id, events in stored.items():
        mine = [(e["seq"], e["kind"], e["message"]) for e in heard if e["run_id"] == run_id]
        assert mine == [(e.id, e.kind, e.message) for e in events], run_id

    # each orphan taken over within the lease, by another worker, which said so
    for run_id, took in figures.items():
        if not 0 < took <= TAKEOVER_S:
            lines = [
                f"{p.name}: {line}"
                for p in sorted(logs.glob("*.log"))
                for line in p.read_text(errors="replace").splitlines()
                if run_id in line
            ]
            said = [f"{e.id} {e.ts:%H:%M:%S.%f} {e.kind} {e.message[:100]}" for e in stored[run_id]]
            kill_at = [
                (time.strftime("%H:%M:%S", time.gmtime(k.at)), k.taken_over_s, k.expiring_s)
                for k in kills
            ]
            raise AssertionError(
                f"{run_id} taken over {took} s after its kill (kills at {kill_at})\n"
                + "\n".join(lines[-60:])
                + "\n"
                + "\n".join(said[-40:])
            )
        assert any(e.kind == "run" and "resumed" in e.message for e in stored[run_id]), run_id
