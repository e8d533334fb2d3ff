"""Secrets never come out: known secrets are planted (a tenant's integration token, webhook
secrets, provider API keys in the environment, the master key, the SMTP password, the API key
a client calls with), the demo is delivered through an API session (the embedded worker, the
real sandbox, mail over SMTP with AUTH to a real server), requests are made that put secrets
where error bodies echo them, and then every output is searched for them: each file of the
data dir (the databases, the outbox, the artifacts, decompressed), every object of the
delivered repositories, the log lines, the mail as the SMTP server received it, and every
answer the API gave. Each redaction point (events, artifacts, error bodies, prompts,
cassettes, logs) is also attacked on its own below."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import time
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.api.server import serving
from tests.fakes.smtp_server import SmtpServer
from vitco.bootstrap import build_api, build_redactor, build_vault, configure_logging
from vitco.cli.run import DEMO_BRIEF, DEMO_CASSETTE
from vitco.config import Settings
from vitco.integrations.mail import KIND_HEADER
from vitco.llm.cassette import CassetteRecorder
from vitco.llm.model import CallKey, Message, ModelRequest
from vitco.llm.redaction import RedactingModel
from vitco.llm.testing import FunctionModel
from vitco.observability.redaction import REDACTED, Redactor
from vitco.sandbox import Sandbox
from vitco.secrets import MasterKey
from vitco.store import AccessStore, Store, open_store
from vitco.store.secrets import TenantSecrets

MASTER = MasterKey.generate()
PLANTED = {
    "tenant token": "ghp_PlantedTenantToken0123456789abcd",
    "stripe secret": "whsec_PlantedStripeSecret0123456789",
    "openai key": "sk-planted-openai-0123456789abcdefgh",
    "anthropic key": "sk-ant-planted-anthropic-0123456789",
    "master key": MASTER.text(),
    "smtp password": "planted-smtp-password-0123456789",
}


def _wait(client: Any, run_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/v1/runs/{run_id}").json()
        if run["status"] not in ("queued", "running"):
            return dict(run)
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} not finished after {timeout} s")


def _files(home: Path) -> dict[str, bytes]:
    """Every regular file under ``home`` (gzip files decompressed), and every object of every
    git repository there, decompressed by git."""
    found: dict[str, bytes] = {}
    for path in home.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        found[str(path)] = data
    for git in home.rglob(".git"):
        objects = subprocess.run(
            ["git", "-C", str(git.parent), "cat-file", "--batch-all-objects", "--batch"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        assert objects, git
        found[f"git objects of {git.parent}"] = objects
    return found


@pytest.mark.slow
def test_planted_secrets_never_come_out(
    settings: Settings, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", PLANTED["openai key"])
    monkeypatch.setenv("ANTHROPIC_API_KEY", PLANTED["anthropic key"])
    smtp = SmtpServer(tmp_path / "tls", {"vitco": PLANTED["smtp password"]})
    configured = settings.model_copy(
        update={
            "model": f"replay:{DEMO_CASSETTE}",
            "master_key": SecretStr(MASTER.text()),
            "mail_backend": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_ca_file": smtp.ca,
            "smtp_username": "vitco",
            "smtp_password": SecretStr(PLANTED["smtp password"]),
        }
    )
    # a tenant's integration token, stored before the server starts (vitco secrets set)
    store = open_store(configured)
    AccessStore(store.sessions).create_tenant("acme", "Acme")
    TenantSecrets(store.sessions, build_vault(configured, store.sessions)).set(
        "acme", "github_token", PLANTED["tenant token"]
    )

    logs = io.StringIO()
    redactor = build_redactor(configured)
    undo = configure_logging(configured, logs, redactor)
    answers: dict[str, bytes] = {}
    try:
        with serving(build_api(configured, sandbox=sandbox, redactor=redactor)) as server:
            api_key = server.key("acme", "admin")
            PLANTED["api key"] = api_key.rsplit("_", 1)[1]  # its prefix names it, openly
            client = server.client(api_key)
            put = client.put("/v1/hooks/stripe/secret", json={"secret": PLANTED["stripe secret"]})
            assert put.status_code == 200, put.text
            # secrets where an error body would echo them
            for name, path in {
                "404 path": f"/v1/{PLANTED['tenant token']}",
                "404 run": f"/v1/runs/{PLANTED['openai key']}",
                "404 path, url-shaped": f"/v1/x/https:user:{PLANTED['smtp password']}@h",
            }.items():
                answer = client.get(path)
                assert answer.status_code == 404
                answers[name] = answer.content
            assert REDACTED in answers["404 path"].decode()  # the echo was there, and cleaned
            hook = client.post(
                "/v1/webhooks",
                json={
                    "url": f"https://user:{PLANTED['smtp password']}@127.0.0.1/h",
                    "events": ["*"],
                },
            )
            answers["webhook refused"] = hook.content
            assert hook.status_code in (400, 422), hook.text

            created = client.post("/v1/projects", json={"brief": DEMO_BRIEF.read_text()})
            assert created.status_code == 201, created.text
            project = created.json()
            run = client.post(f"/v1/projects/{project['id']}/runs", json={}).json()
            done = _wait(client, run["id"])
            assert done["status"] == "delivered", done
            for what in (
                "",
                "/report",
                "/events",
                "/artifacts",
                "/logs",
                "/mail",
                "/repo",
                "/tasks",
                "/history",
            ):
                answers[f"GET run{what}"] = client.get(f"/v1/runs/{run['id']}{what}").content
            answers["GET costs"] = client.get("/v1/costs").content
    finally:
        undo()
        smtp.close()

    # mailed over SMTP with AUTH: taken on, the plan, the delivery
    kinds = [
        message_from_bytes(raw, policy=policy.default)[KIND_HEADER] for *_, raw in smtp.received
    ]
    assert sorted(kinds) == ["accepted", "delivered", "plan_ready"] and set(smtp.logins) == {
        "vitco"
    }
    outputs = {
        **_files(configured.home),
        **{f"API answer {k}": v for k, v in answers.items()},
        "log lines": logs.getvalue().encode(),
        **{f"mail {i} received over SMTP": raw for i, (*_, raw) in enumerate(smtp.received)},
    }
    assert any("repo.tar.gz" in name for name in outputs)  # the kept tarball was searched
    assert logs.getvalue()  # there were log lines to search
    leaks = [
        f"{what} in {where}"
        for where, blob in outputs.items()
        for what, value in PLANTED.items()
        if value.encode() in blob
    ]
    assert leaks == []


def test_the_store_writes_events_and_artifacts_without_known_secrets(tmp_path: Path) -> None:
    secret = "ghp_KnownToTheRedactor0123456789"
    redactor = Redactor([secret])
    store = Store(open_store(Settings(home=tmp_path / "h")).sessions, redactor=redactor)
    project = store.create_project("p", str(tmp_path / "r"))
    brief = store.create_brief(project.id, "b.md", "# p")
    run = store.create_run(project.id, brief.id, "m", "deliver-project")
    store.add_event(
        run.id,
        "error",
        f"push failed: https://x:{secret}@github.com/a/b",
        data={"detail": f"token {secret}", "api_key": "whatever-it-is"},
    )
    ref = store.put_artifact(
        run.id,
        "changeset",
        {"files": [{"path": "config.py", "content": f'TOKEN = "{secret}"\npassword="fixture"\n'}]},
    )
    [event] = store.events(run.id)
    assert secret not in event.message and secret not in json.dumps(event.data)
    assert event.data == {"detail": f"token {REDACTED}", "api_key": REDACTED}
    content = store.get_artifact(ref)["files"][0]["content"]
    # known values only in code: a fixture shaped like a credential is left as written
    assert content == f'TOKEN = "{REDACTED}"\npassword="fixture"\n'


def _request(text: str) -> ModelRequest:
    return ModelRequest(
        key=CallKey(role="developer", step="implement"),
        messages=(
            Message(role="system", content="you write code"),
            Message(role="user", content=text),
        ),
        output_name="answer",
        output_schema={"type": "string"},
    )


def test_prompts_never_carry_a_known_secret() -> None:
    secret = "sk-ProviderKeySeenInAnErrorLog0123"
    seen: list[ModelRequest] = []

    def answer(request: ModelRequest) -> str:
        seen.append(request)
        return '"ok"'

    model = RedactingModel(FunctionModel(answer), Redactor([secret]))
    model.request(_request(f"the test failed: 401 for key {secret}"))
    clean = _request("the test printed password=hunter2 and Bearer abcdefghijk")
    model.request(clean)
    assert secret not in seen[0].messages[1].content and REDACTED in seen[0].messages[1].content
    assert seen[1] is clean  # nothing known: the same request (its fingerprint unchanged)


def test_a_recorded_cassette_knows_what_the_process_redactor_knows(tmp_path: Path) -> None:
    redactor = Redactor()
    cassette = tmp_path / "c.jsonl"
    recorder = CassetteRecorder(
        FunctionModel(lambda _: '"echo ghp_LearnedLater0123456"'), cassette, redactor=redactor
    )
    redactor.register("ghp_LearnedLater0123456")  # the vault opened it after the recorder began
    recorder.request(_request("x"))
    assert "ghp_LearnedLater0123456" not in cassette.read_text()


def test_logs_redact_values_the_vault_learns_while_running(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h", master_key=SecretStr(MASTER.text()))
    redactor = build_redactor(settings)
    stream = io.StringIO()
    undo = configure_logging(settings, stream, redactor)
    try:
        store = open_store(settings)
        AccessStore(store.sessions).create_tenant("acme", "Acme")
        named = TenantSecrets(store.sessions, build_vault(settings, store.sessions, redactor))
        named.set("acme", "stripe_key", "rk_live_PlantedStripeKey0123")
        import logging

        logging.getLogger("vitco.test").warning("calling stripe with rk_live_PlantedStripeKey0123")
        logging.getLogger("vitco.test").warning("master %s", MASTER.text())
    finally:
        undo()
    assert "PlantedStripeKey" not in stream.getvalue() and MASTER.text() not in stream.getvalue()
    assert stream.getvalue().count(REDACTED) == 2


def test_the_process_redactor_knows_every_secret_setting(tmp_path: Path) -> None:
    fields = [
        name
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    ]
    assert {"master_key", "smtp_password", "sendgrid_api_key", "s3_secret_access_key"} <= set(
        fields
    )
    values = {name: f"planted-{name}-0123456789" for name in fields}
    planted: dict[str, Any] = {k: SecretStr(v) for k, v in values.items()}
    settings = Settings(home=tmp_path / "h", **planted)
    known = build_redactor(settings).secrets
    assert set(values.values()) <= set(known)
