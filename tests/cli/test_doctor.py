"""`vitco doctor`: the configuration, each provider's server (a fake one, over real HTTP), the
database and Redis (the real servers), and the sandbox; every problem with its fix."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.fakes import FakeAnthropic, FakeOpenAI
from tests.processes import free_port
from vitco.cli.app import app

KEY = "sk-doctor-0123456789"


def doctor(home: Path, **env: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["doctor", "--json"], env={"VITCO_HOME": str(home), **env})
    data: dict[str, Any] = json.loads(result.stdout)
    assert data["ok"] is (result.exit_code == 0), result.output
    assert all(c["status"] != "fail" for c in data["checks"]) is data["ok"]
    return result.exit_code, data


def check(data: dict[str, Any], name: str) -> dict[str, Any]:
    matches: list[dict[str, Any]] = [c for c in data["checks"] if c["name"] == name]
    (found,) = matches
    return found


def box(home: Path, url: str, kind: str = "openai-compat") -> Path:
    """A vitco.toml whose every tier is one model of provider ``box`` at ``url``."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "vitco.toml"
    config.write_text(
        f'[providers.box]\nkind = "{kind}"\nbase_url = "{url}"\napi_key_env = "BOX_KEY"\n'
        '[tiers]\npremium = ["box:m"]\n',
        encoding="utf-8",
    )
    return config


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=KEY) as server:
        yield server


def test_every_area_is_checked_and_no_model_is_only_a_warning(tmp_path: Path) -> None:
    _, data = doctor(tmp_path / "home")
    # no model chains, so no provider to reach
    assert {c["area"] for c in data["checks"]} == {"configuration", "database", "redis", "sandbox"}
    models = check(data, "models")
    assert models["status"] == "warn" and "vitco init" in models["fix"]
    assert check(data, "settings")["detail"].startswith(f"data dir {tmp_path / 'home'}")
    assert check(data, "database")["status"] == "ok"
    assert check(data, "redis")["detail"].startswith("not configured")
    assert any(c["area"] == "sandbox" for c in data["checks"])


def test_a_provider_that_answers_with_the_key(tmp_path: Path, fake: FakeOpenAI) -> None:
    home = tmp_path / "home"
    box(home, fake.base_url)
    _, data = doctor(home, BOX_KEY=KEY)
    found = check(data, "provider box")
    assert found["area"] == "providers" and found["status"] == "ok"
    assert found["detail"].startswith(f"{fake.base_url} answers (HTTP ")
    (request,) = fake.requests  # one plain GET: no model call, nothing paid
    assert (request.method, request.path) == ("GET", "/v1/models")
    assert request.headers["authorization"] == f"Bearer {KEY}"


def test_a_refused_key_a_missing_key_and_a_dead_server_fail_with_fixes(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    home = tmp_path / "home"
    box(home, fake.base_url)
    code, data = doctor(home, BOX_KEY="sk-wrong-key-000")
    refused = check(data, "provider box")
    assert code == 1 and refused["status"] == "fail"
    assert "refused the key (HTTP 401)" in refused["detail"] and refused["fix"] == "check BOX_KEY"
    assert "sk-wrong-key-000" not in json.dumps(data)

    box(home, fake.base_url, kind="openai")  # a kind that needs a key (openai-compat may not)
    code, data = doctor(home)
    missing = check(data, "provider box")
    assert code == 1 and (missing["detail"], missing["fix"]) == ("no API key", "export BOX_KEY=...")

    dead = f"http://127.0.0.1:{free_port()}/v1"
    box(home, dead)
    code, data = doctor(home, BOX_KEY=KEY)
    down = check(data, "provider box")
    assert code == 1 and down["detail"].startswith(f"{dead} does not answer (ConnectError")
    assert "base_url in vitco.toml" in down["fix"]


def test_a_server_that_never_answers_fails_within_the_short_timeout(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with socket.socket() as silent:  # listens (connections queue up) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        box(home, f"http://127.0.0.1:{silent.getsockname()[1]}/v1")
        began = time.monotonic()
        code, data = doctor(home, BOX_KEY=KEY)
        took = time.monotonic() - began
    assert code == 1 and "ReadTimeout" in check(data, "provider box")["detail"]
    assert took < 20  # doctor's timeout is a few seconds, not the client default


def test_anthropic_is_asked_with_its_own_headers(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with FakeAnthropic(api_key=KEY) as server:
        box(home, server.base_url, kind="anthropic")
        _, data = doctor(home, BOX_KEY=KEY)
        (request,) = server.requests
    assert check(data, "provider box")["status"] == "ok"
    assert request.headers["x-api-key"] == KEY and "anthropic-version" in request.headers


def test_vitco_model_alone_is_checked_like_a_run_uses_it(tmp_path: Path, fake: FakeOpenAI) -> None:
    env = {"VITCO_MODEL": "openai:gpt-4o-mini", "OPENAI_API_KEY": KEY}
    _, data = doctor(tmp_path / "home", OPENAI_BASE_URL=fake.base_url, **env)
    assert check(data, "models")["detail"].startswith("VITCO_MODEL=openai:gpt-4o-mini")
    assert check(data, "provider openai")["status"] == "ok"
    replay = doctor(tmp_path / "home", VITCO_MODEL="replay:x.jsonl")[1]
    assert not [c for c in replay["checks"] if c["area"] == "providers"]  # nothing to reach


def test_a_broken_configuration_file_is_named(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "vitco.toml").write_text("[tiers]\npremium = ['opneai:x']\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["doctor", "--json"], env={"VITCO_HOME": str(home)})
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert str(home / "vitco.toml") in error and "tiers.premium[0]" in error


@pytest.mark.postgres
def test_the_real_postgresql_database(tmp_path: Path, postgres_url: str) -> None:
    _, data = doctor(tmp_path / "home", VITCO_DATABASE_URL=postgres_url)
    found = check(data, "database")
    assert found["status"] == "ok" and found["detail"].startswith("postgresql+psycopg://postgres@")
    _, data = doctor(tmp_path / "home", VITCO_DATABASE_URL=postgres_url, VITCO_AUTO_MIGRATE="false")
    behind = check(data, "database")
    assert behind["status"] == "fail" and behind["fix"] == "vitco db upgrade"


def test_a_database_that_does_not_answer(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nope"
    code, data = doctor(tmp_path / "home", VITCO_DATABASE_URL=url)
    found = check(data, "database")
    assert code == 1 and found["status"] == "fail" and "OperationalError" in found["detail"]
    assert "VITCO_DATABASE_URL" in found["fix"]


@pytest.mark.redis
def test_the_real_redis_and_one_that_does_not_answer(tmp_path: Path, redis_client: Any) -> None:
    _, data = doctor(tmp_path / "home", VITCO_REDIS_URL="redis://127.0.0.1:6379/0")
    assert check(data, "redis") == {
        "area": "redis",
        "name": "redis",
        "status": "ok",
        "detail": "redis://127.0.0.1:6379/0 answers",
        "fix": "",
    }
    dead = f"redis://:secret@127.0.0.1:{free_port()}/0"
    code, data = doctor(tmp_path / "home", VITCO_REDIS_URL=dead)
    found = check(data, "redis")
    assert code == 1 and found["status"] == "fail" and "VITCO_REDIS_URL" in found["fix"]
    assert "secret" not in json.dumps(data) and ":***@127.0.0.1" in found["detail"]
