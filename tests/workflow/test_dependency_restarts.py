"""Runs survive their dependencies: a throwaway PostgreSQL, or a throwaway Redis, that the
test owns (its own data dir and port) is restarted in the middle of a demo run, while tasks
run in parallel; the run waits, goes on after reconnect and is delivered with nothing lost
or repeated (ledger, commits, events, mail: ``tests.effects``).

Redis holds what the router shares between workers (the response cache, the breakers, the
structured-output modes) and the event bus, so its run goes through the router to a fake
OpenAI server over real HTTP answering with the demo cassette (``tests.fakes``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.effects import assert_delivered_once, cassette_labels
from tests.fakes import FakeOpenAI
from tests.fakes.cassette_responder import CallTagged, CassetteResponder
from tests.servers import ThrowawayPostgres, ThrowawayRedis, throwaway_postgres, throwaway_redis
from vitco.bootstrap import start_run
from vitco.cli.run import DEMO_BRIEF, DEMO_CASSETTE
from vitco.config import Settings
from vitco.llm.cassette import ReplayModel
from vitco.llm.model import Model, ModelRequest, ModelResponse
from vitco.llm.resolve import resolve_model
from vitco.llm.router import Router
from vitco.sandbox import Sandbox
from vitco.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("standin_toolchain")]


class RestartAt:
    """The demo cassette's answers; at the ``at``-th call, ``restart`` runs before the answer
    is returned (the call's own ledger row then meets the outage)."""

    def __init__(self, at: int, restart: Callable[[], None], inner: Model | None = None) -> None:
        self.inner = inner or ReplayModel(DEMO_CASSETTE)
        self.at, self.restart = at, restart
        self.calls = 0
        self.lock = threading.Lock()

    @property
    def id(self) -> str:
        return self.inner.id

    def request(self, request: ModelRequest) -> ModelResponse:
        with self.lock:
            self.calls += 1
            now = self.calls == self.at
        if now:
            self.restart()
        return self.inner.request(request)


class Restart:
    """Stop the server now; start it again ``down_s`` later, from another thread."""

    def __init__(self, server: ThrowawayPostgres | ThrowawayRedis, down_s: float = 2.0) -> None:
        self.server, self.down_s = server, down_s
        self.up_at: datetime | None = None
        self.thread: threading.Thread | None = None

    def __call__(self) -> None:
        self.server.stop()  # PostgreSQL: every session ends; Redis: killed, comes back empty

        def up() -> None:
            time.sleep(self.down_s)
            self.server.start()
            self.up_at = datetime.now(UTC)

        self.thread = threading.Thread(target=up, daemon=True)
        self.thread.start()


def test_a_run_waits_through_a_postgres_restart(sandbox: Sandbox, tmp_path: Path) -> None:
    with throwaway_postgres() as pg:
        settings = Settings(home=tmp_path / "home", database_url=pg.url, health_timeout_s=20.0)
        restart = Restart(pg)  # a fast stop: every session ends, transactions roll back
        middle = sum(cassette_labels().values()) // 2  # tasks going in parallel by then
        model = RestartAt(middle, restart)
        report = start_run(settings, DEMO_BRIEF, model=model, sandbox=sandbox).report
        assert restart.thread is not None
        restart.thread.join(60)
        assert report["status"] == "delivered", report["reason"]
        store = open_store(settings)
        run_id = report["run_id"]
        assert restart.up_at is not None
        after = [e for e in store.events(run_id) if e.ts.replace(tzinfo=UTC) > restart.up_at]
        assert after and after[-1].kind == "run"  # it went on after the server came back
        assert_delivered_once(store, run_id, [settings.outbox_dir])


OPENAI_KEY = "sk-restart-openai-0123456789"
CONFIG = """
[providers.openai]
base_url = "{openai}"
timeout = 5.0

[tiers]
premium = ["openai:gpt-4.1"]
standard = ["openai:gpt-4.1-mini"]
efficient = ["openai:gpt-4.1-nano"]
"""


def test_a_run_through_the_router_waits_through_a_redis_restart(
    sandbox: Sandbox, tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeOpenAI(api_key=OPENAI_KEY, responder=CassetteResponder(DEMO_CASSETTE))
    with throwaway_redis() as redis_server, fake:
        config = tmp_path / "vitco.toml"
        config.write_text(CONFIG.format(openai=fake.base_url), encoding="utf-8")
        monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
        settings = Settings(
            home=tmp_path / "home",
            database_url=postgres_url,
            redis_url=redis_server.url,
            config_file=config,
            health_timeout_s=20.0,
        )
        router = resolve_model(None, settings)
        assert isinstance(router, Router)
        restart = Restart(redis_server, down_s=6.0)  # longer than redis-py's own retries
        middle = sum(cassette_labels().values()) // 2
        model = RestartAt(middle, restart, CallTagged(router))
        try:
            report = start_run(settings, DEMO_BRIEF, model=model, sandbox=sandbox).report
        finally:
            router.close()
        assert restart.thread is not None
        restart.thread.join(60)
        assert report["status"] == "delivered", report["reason"]
        store = open_store(settings)
        run_id = report["run_id"]
        assert restart.up_at is not None
        after = [e for e in store.events(run_id) if e.ts.replace(tzinfo=UTC) > restart.up_at]
        assert after and after[-1].kind == "run"
        assert_delivered_once(store, run_id, [settings.outbox_dir])
        responder = fake.responder
        assert isinstance(responder, CassetteResponder)
        assert not responder.misses and not fake.problems and not fake.errors
        # each call asked the provider at most once (the cache may have answered some)
        assert responder.served <= sum(cassette_labels().values())
