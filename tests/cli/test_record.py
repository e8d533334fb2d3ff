"""`vitco run BRIEF --record FILE` records a live run (here: a fake OpenAI over real HTTP) into a
cassette with no API key in it; `--model replay:FILE` then delivers it again with no provider.
`--budget USD` caps the project: a cap below one call pauses the run before anything is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tests.fakes import FakeOpenAI
from tests.workflow.scripted import (
    APPROVE,
    DEPLOY,
    SOUND,
    SPEC,
    calc,
    calc_tests,
    plan,
    write_brief,
)
from vitco.cli.app import app
from vitco.observability.redaction import REDACTED

pytestmark = pytest.mark.slow

KEY = "sk-record-secret-0123456789abcdef"
ANSWERS: dict[str, Any] = {
    # a model that echoes the key it was sent: the recorder must scrub it
    "Spec": SPEC | {"summary": f"A function that adds two numbers (debug: {KEY})."},
    "SpecCritique": SOUND,
    "Plan": plan("T1"),
    "DeveloperAnswer": calc(),
    "Review": APPROVE,
    "QaTests": calc_tests(),
    "DeployPlan": DEPLOY,
}


def by_output_name(payload: dict[str, Any]) -> Any:
    """Answer a chat completion by the name of the typed output it asks for."""
    return ANSWERS.get(payload["response_format"]["json_schema"]["name"])


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=KEY, responder=by_output_name) as server:
        yield server
    assert not server.problems and not server.errors


def vitco(home: Path, *args: str, **env: str) -> Result:
    clean: dict[str, str | None] = {"GROQ_API_KEY": None, "OPENROUTER_API_KEY": None}
    return CliRunner().invoke(app, list(args), env={**clean, "VITCO_HOME": str(home), **env})


@pytest.mark.usefixtures("sandbox")
def test_a_recorded_run_has_no_secret_and_replays(
    short_home: Path, tmp_path: Path, fake: FakeOpenAI
) -> None:
    brief = write_brief(tmp_path)
    cassette = tmp_path / "run.jsonl"
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.base_url}

    live = vitco(short_home, "run", str(brief), "--record", str(cassette), "--json", **env)

    assert live.exit_code == 0, live.output[-3000:]
    report = json.loads(live.stdout)
    assert report["status"] == "delivered"
    assert report["cost"]["usd"] > 0  # priced at gpt-4.1 rates
    assert len(fake.requests) == 7
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in fake.requests)

    text = cassette.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["vitco_cassette"] == 1 and lines[0]["recorded_with"] == "router"
    assert [e["key"]["role"] for e in lines[1:]] == [
        "analyst", "reviewer", "manager", "developer", "reviewer", "qa", "devops"
    ]  # fmt: skip
    assert KEY not in text and KEY[3:] not in text and REDACTED in text
    assert all(e["response"]["model"].startswith("openai:gpt-4.1") for e in lines[1:])

    replay = vitco(short_home, "run", str(brief), "--model", f"replay:{cassette}", "--json")

    assert replay.exit_code == 0, replay.output[-3000:]
    again = json.loads(replay.stdout)
    assert again["status"] == "delivered" and again["cost"]["calls"] == 7
    assert len(fake.requests) == 7  # nothing went to the provider


def test_a_replay_miss_names_the_call(short_home: Path, tmp_path: Path) -> None:
    cassette = tmp_path / "short.jsonl"
    entry = {
        "key": {"role": "analyst", "step": "analyze"},
        "response": {"content": json.dumps(SPEC)},
    }
    cassette.write_text(json.dumps(entry) + "\n", encoding="utf-8")
    brief = write_brief(tmp_path)
    result = vitco(short_home, "run", str(brief), "--model", f"replay:{cassette}", "--json",
                   VITCO_SANDBOX="unsafe")  # fmt: skip
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["status"] == "needs_attention"
    assert "no recorded answer for call reviewer/check_spec#1" in report["reason"]


def test_run_with_a_budget_below_one_call_pauses_before_calling(
    short_home: Path, tmp_path: Path, fake: FakeOpenAI
) -> None:
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.base_url, "VITCO_SANDBOX": "unsafe"}
    brief = write_brief(tmp_path)
    result = vitco(short_home, "run", str(brief), "--budget", "0.0001", "--json", **env)

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["status"] == "budget_exceeded" and "budget exceeded" in report["reason"]
    assert fake.requests == []  # refused before anything was sent
    shown = json.loads(vitco(short_home, "budget", report["project_id"], "--json").stdout)
    assert shown["budget_usd"] == 0.0001 and shown["resume"] == f"vitco resume {report['run_id']}"
