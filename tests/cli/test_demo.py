"""`vitco demo` end to end, as a user runs it: a real process, the real sandbox, the replay."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.effects import mails
from vitco.cli.run import DEMO_CASSETTE
from vitco.config import Settings
from vitco.integrations.git.repo import Repo
from vitco.integrations.mail import KIND_HEADER
from vitco.llm.cassette import read_cassette
from vitco.store import open_store

pytestmark = pytest.mark.slow
VITCO = [sys.executable, "-m", "vitco.cli"]


def run_vitco(home: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITCO_")}
    env |= {"VITCO_HOME": str(home), "COLUMNS": "120"}
    return subprocess.run(
        [*VITCO, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def assert_no_host_paths(home: Path, run_id: str) -> None:
    """What a client can read names no path of vitco's host: the mails (the client portal
    shows them) and the run's events (``GET /v1/runs/{id}/events``, the live stream), neither
    the data dir nor where the replayed cassette lies."""
    hosts = (str(home), str(DEMO_CASSETTE.parent))
    texts = [
        f"{m.as_string()} {part.get_content()}"
        for m in mails(home / "outbox")
        for part in m.walk()
        if part.get_content_maintype() == "text"
    ]
    assert {str(m[KIND_HEADER]) for m in mails(home / "outbox")} == {
        "accepted", "plan_ready", "delivered",
    }  # fmt: skip
    events = open_store(Settings(home=home)).events(run_id)
    texts += [f"{e.message} {json.dumps(e.data)}" for e in events]
    leaks = [text[:300] for text in texts if any(host in text for host in hosts)]
    assert leaks == [], leaks
    started = next(e.message for e in events if e.kind == "run")
    assert started.endswith(f"started with model replay:{DEMO_CASSETTE.name}"), started


@pytest.mark.usefixtures("sandbox")
def test_demo_delivers_the_todo_api(short_home: Path) -> None:
    proc = run_vitco(short_home, "demo", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["status"] == "delivered"
    assert report["tests"]["failed"] == 0 and report["tests"]["passed"] >= 10
    assert report["smoke_ok"] is True
    assert report["commits"] >= 3
    assert any(t["attempts"] >= 2 for t in report["tasks"])  # the fix loop ran
    assert all(t["status"] == "done" for t in report["tasks"])
    mail = Path(report["mail"])
    assert mail.suffix == ".eml" and mail.is_file()
    parsed = email.message_from_bytes(mail.read_bytes())
    assert parsed["To"] == "Ada Lovelace <ada@example.com>"
    assert_no_host_paths(short_home, report["run_id"])
    # one request per recorded answer (the ledger meters every request the cassette answers)
    recorded = read_cassette(DEMO_CASSETTE)[1]
    assert report["cost"]["calls"] == len(recorded) and report["cost"]["usd"] == 0.0
    assert set(report["cost"]["by_role"]) == {
        "analyst",
        "manager",
        "developer",
        "reviewer",
        "qa",
        "devops",
    }
    repo = Repo(Path(report["repo"]))
    assert repo.head("delivered") == repo.head("main")
    assert "todo/app.py" in repo.files()
    assert report["duration_s"] > 0
    # the delivered tree is kept in the artifact store (the data dir's by default)
    kept = short_home / "artifacts" / "default" / report["run_id"] / "repo.tar.gz"
    with tarfile.open(kept, "r:gz") as tar:
        names = {m.name.split("/", 1)[1] for m in tar.getmembers()}
    assert names == {e.path for e in repo.tree_entries("delivered")} and "todo/app.py" in names

    # Running it again, without --json and into a pipe: plain progress and the replay note,
    # and a new project, delivered the same way.
    plain = run_vitco(short_home, "demo")
    assert plain.returncode == 0, plain.stderr[-3000:]
    out = plain.stdout
    assert "replays a recorded model" in out and "OPENAI_API_KEY" in out
    assert "\x1b[" not in out  # no terminal escapes in a pipe
    for line in ("analyst reads the brief", "back to the developer", "DELIVERED"):
        assert line in out

    # status and report find both, as JSON.
    listed = json.loads(run_vitco(short_home, "status", "--json").stdout)
    projects = {p["project_id"]: p["status"] for p in listed["projects"]}
    assert len(projects) == 2 and report["project_id"] in projects
    assert set(projects.values()) == {"delivered"}
    stored = json.loads(run_vitco(short_home, "report", report["project_id"], "--json").stdout)
    assert stored["run_id"] == report["run_id"] and stored["status"] == "delivered"
