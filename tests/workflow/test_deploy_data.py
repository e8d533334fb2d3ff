"""The deploy step of a run whose spec asks for data that survives a restart: the app keeps a
SQLite file in DATA_DIR (a directory per project in vitco's sandbox area), DevOps is told
where data lives and that it must last, and the restart is checked even though DevOps did not
ask for it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.workflow.scripted import (
    NOTES_APP,
    NOTES_DEPLOY,
    SPEC,
    changeset,
    happy_path,
    script,
    write_brief,
)
from vitco.bootstrap import start_run
from vitco.config import Settings
from vitco.llm.model import ModelRequest
from vitco.sandbox import Sandbox
from vitco.store import open_store

pytestmark = pytest.mark.slow

NOTES_TESTS = """import asyncio, json

import notes


def call(method, path, body=b""):
    sent = []

    async def receive():
        return {"type": "http.request", "body": body}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path}
    asyncio.run(notes.app(scope, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"])


def test_a_note_is_kept_in_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    status, note = call("POST", "/notes", b'{"text": "milk"}')
    assert status == 201
    assert call("GET", "/notes/" + note["id"]) == (200, note)
"""


def _last_user_message(request: ModelRequest) -> str:
    return [m.content for m in request.messages if m.role == "user"][-1]


def _run(settings: Settings, sandbox: Sandbox, tmp_path: Path, app: str) -> tuple[Any, Any]:
    answers = happy_path() | {
        "analyst/analyze#1": SPEC | {"persistent_data": True},
        "developer/implement/T1#1": changeset({"notes.py": app}),
        "qa/write_tests/T1#1": {
            "files": [{"path": "tests/test_notes.py", "action": "write", "content": NOTES_TESTS}]
        },
        "devops/deploy#1": NOTES_DEPLOY,  # no persistent_data: the spec asks for it
    }
    model = script(answers)
    outcome = start_run(settings, write_brief(tmp_path), model=model, sandbox=sandbox)
    return outcome, model


def test_data_in_data_dir_survives_the_restart_check_and_smoke_never_touches_it(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    outcome, model = _run(settings, sandbox, tmp_path, NOTES_APP)

    report = outcome.report
    assert report["status"] == "delivered", report["reason"]
    assert report["smoke_ok"] is True
    checks = {c["name"].split(" /")[0]: c for c in report["delivery"]["checks"]}
    assert checks["restart"]["ok"] is True
    assert checks["after restart: GET"]["ok"] is True
    [deployment] = open_store(settings).artifacts(report["run_id"], "deployment")
    assert deployment.content["plan"]["persistent_data"] is True
    # the project's data dir: outside the repository, the live data untouched by smoke
    root = settings.sandbox_state_dir / "data" / report["project_id"]
    assert os.listdir(root) == ["live"]
    assert "notes.sqlite" not in os.listdir(root / "live")  # smoke wrote to a copy only
    assert Path(report["repo"]) not in root.parents
    # the analyst may say data must last; the developer and DevOps are told where it lives
    [analyst] = [r for r in model.requests if r.key.role == "analyst"]
    assert "survive a restart" in str(analyst.output_schema["properties"]["persistent_data"])
    [developer] = [r for r in model.requests if r.key.role == "developer"]
    assert "named by the environment variable DATA_DIR" in _last_user_message(developer)
    [devops] = [r for r in model.requests if r.key.role == "devops"]
    asked = _last_user_message(devops)
    assert "named by the environment variable DATA_DIR" in asked
    assert "the specification asks for data that survives a restart" in asked
    assert "after_restart" in str(devops.output_schema)


def test_an_app_that_keeps_its_data_in_tmp_passes_its_tests_and_fails_the_restart_check(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    in_tmp = NOTES_APP.replace('os.environ.get("NOTES_DIR")', '"/tmp"')

    outcome, _ = _run(settings, sandbox, tmp_path, in_tmp)

    report = outcome.report
    assert report["smoke_ok"] is False, report["reason"]
    assert report["delivery"] is not None, report["reason"]
    failed = [c for c in report["delivery"]["checks"] if not c["ok"]]
    assert [c["name"].split(" /")[0] for c in failed] == ["after restart: GET"]
    assert failed[0]["detail"].startswith("status 404, expected 200")
