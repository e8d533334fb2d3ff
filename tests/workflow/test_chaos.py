"""Chaos: the demo brief is delivered through the router while 30 % of provider calls fail.

Two fake vendors over real HTTP (OpenAI first in every tier but premium, Anthropic as the
fallback) answer every call with the demo cassette's recorded output, and fail a seeded 30 %
of requests with mixed faults: 429 with Retry-After, 500, 503, a hang the client's timeout
cuts, a malformed body. The run must still deliver, and the ledger must show the retries.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import Fail, FakeAnthropic, FakeOpenAI
from tests.fakes.cassette_responder import CallTagged, CassetteResponder
from vitco.bootstrap import start_run
from vitco.cli.run import DEMO_BRIEF, DEMO_CASSETTE
from vitco.config import Settings
from vitco.llm.resolve import resolve_model
from vitco.llm.router import Router
from vitco.sandbox import Sandbox
from vitco.store import open_store

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(120),
    pytest.mark.usefixtures("standin_toolchain"),  # about the model calls, not the toolchain
]

BRIEF, CASSETTE = DEMO_BRIEF, DEMO_CASSETTE
OPENAI_KEY = "sk-chaos-openai-0123456789"
ANTHROPIC_KEY = "sk-ant-chaos-0123456789"

CONFIG = """
[providers.openai]
base_url = "{openai}"
timeout = 1.0

[providers.anthropic]
base_url = "{anthropic}"
timeout = 1.0

[tiers]
premium = ["anthropic:claude-opus-5-5", "openai:gpt-4.1"]
standard = ["openai:gpt-4.1-mini", "anthropic:claude-sonnet-5-5"]
efficient = ["openai:gpt-4.1-nano", "anthropic:claude-haiku-5-5"]

[retry]
attempts = 3
base_delay_s = 0.02
max_delay_s = 0.2

[breaker]
failures = 4
cooldown_s = 1.0
"""


@pytest.fixture
def responders() -> tuple[CassetteResponder, CassetteResponder]:
    return (
        CassetteResponder(CASSETTE, fail_rate=0.3, seed=1),
        CassetteResponder(CASSETTE, fail_rate=0.3, seed=2),
    )


@pytest.fixture
def fakes(
    responders: tuple[CassetteResponder, CassetteResponder],
) -> Iterator[tuple[FakeOpenAI, FakeAnthropic]]:
    openai_fake = FakeOpenAI(api_key=OPENAI_KEY, responder=responders[0])
    anthropic_fake = FakeAnthropic(api_key=ANTHROPIC_KEY, responder=responders[1])
    with openai_fake, anthropic_fake:
        yield openai_fake, anthropic_fake
    for fake in (openai_fake, anthropic_fake):
        assert not fake.problems, fake.problems
        assert not fake.errors, fake.errors


def test_the_demo_brief_is_delivered_through_retries_and_fallback(
    settings: Settings,
    sandbox: Sandbox,
    tmp_path: Path,
    fakes: tuple[FakeOpenAI, FakeAnthropic],
    responders: tuple[CassetteResponder, CassetteResponder],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    openai_fake, anthropic_fake = fakes
    config = tmp_path / "vitco.toml"
    config.write_text(
        CONFIG.format(openai=openai_fake.base_url, anthropic=anthropic_fake.base_url),
        encoding="utf-8",
    )
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    settings = settings.model_copy(update={"config_file": config})
    # The very first call finds OpenAI down for all its tries: it must fall back to Anthropic.
    openai_fake.queue(Fail(500), Fail(502), Fail(503))
    router = resolve_model(None, settings)
    assert isinstance(router, Router)

    try:
        outcome = start_run(settings, BRIEF, model=CallTagged(router), sandbox=sandbox)
    finally:
        router.close()
    report = outcome.report

    assert report["status"] == "delivered", report["reason"]
    assert report["tests"]["failed"] == 0 and report["tests"]["passed"] >= 1
    assert report["smoke_ok"] is True
    assert all(t["status"] == "done" for t in report["tasks"])

    random_faults = sum(r.faults_injected for r in responders)
    answered_at_random = len(openai_fake.requests) + len(anthropic_fake.requests) - 3
    # ~30 % of the requests failed (a binomial share of a few dozen requests: a wide band)
    assert 0.1 * answered_at_random <= random_faults <= 0.6 * answered_at_random
    kinds = responders[0].injected + responders[1].injected
    assert len(kinds) >= 3, kinds  # mixed faults, not one kind
    injected = random_faults + 3

    calls = open_store(settings).calls(run_id=report["run_id"])
    cassette = DEMO_CASSETTE.read_text(encoding="utf-8").splitlines()[1:]
    assert len(calls) == len(cassette)  # every call of the cassette, each answered once
    assert sum(c.retries for c in calls) >= injected > 0  # the ledger shows every failed try
    assert calls[0].retries >= 3 and calls[0].model.startswith("anthropic:")
    assert {c.model.partition(":")[0] for c in calls} == {"openai", "anthropic"}
    assert all(c.cost_usd > 0 and c.tier for c in calls)  # priced with real prices
