"""The CLI's remote mode against a real ``vitco serve`` process: ``vitco --server URL run``
stops at a gate, ``approve`` delivers, and ``status``, ``show`` and ``costs`` print what the
local mode prints on the same data dir (the same JSON but for the host's paths, which the
remote mode names by their API address; the same text but for those lines)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.processes import free_port
from tests.processes import vitco as command
from tests.standin import ENV as standin_env
from tests.standin import PRELUDE
from vitco.cli.app import app
from vitco.cli.run import DEMO_BRIEF, DEMO_CASSETTE
from vitco.config import Settings
from vitco.store import Store, open_database

pytestmark = pytest.mark.slow
CAREFUL = (
    "name: careful\nextends: deliver-project\ngates:\n  - {after: plan, question: 'Plan OK?'}\n"
)
HOST_PATHS = ("repo", "mail")  # a path of the host locally, the API's address remotely


@pytest.fixture
def served(short_home: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A vitco serve on ``short_home`` replaying the demo cassette, with the tests' stand-in
    toolchain (``tests.standin``: this is about the CLI): its URL and the env of a local vitco
    on the same data dir."""
    env = (
        os.environ
        | {
            "VITCO_HOME": str(short_home),
            "VITCO_MODEL": f"replay:{DEMO_CASSETTE}",
            "COLUMNS": "200",
        }
        | standin_env
    )
    (short_home / "workflows").mkdir(parents=True)
    (short_home / "workflows" / "careful.yaml").write_text(CAREFUL)
    port = free_port()
    server = subprocess.Popen(
        [*command(PRELUDE), "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.2)
        yield url, env
    finally:
        server.terminate()
        server.wait(60)


def _vitco(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``vitco ARGS`` with ``env``, in this process (the CLI's own code, as ``vitco`` runs it;
    the server is the real process): 22 commands in processes of their own cost 20 s of
    imports."""
    result = CliRunner().invoke(app, list(args), prog_name="vitco", env=env)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.stdout, result.stderr
    return json.loads(result.stdout)


def _without_paths(report: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in report.items() if k not in HOST_PATHS}
    if data.get("delivery"):
        data["delivery"] = {k: v for k, v in data["delivery"].items() if k != "artifacts"}
    return data


def test_the_remote_cli_prints_what_the_local_one_prints(
    served: tuple[str, dict[str, str]],
) -> None:
    url, local = served
    assert _vitco(local, "tenants", "create", "acme").returncode == 0
    key = _json(_vitco(local, "keys", "create", "--tenant", "acme", "--role", "manager", "--json"))
    remote = local | {"VITCO_API_KEY": key["key"]}

    # without a key the remote mode says what to set; the flag and the variable both work
    nokey = _vitco(local, "--server", url, "status", "--json")
    assert nokey.returncode == 1 and "VITCO_API_KEY" in _json(nokey)["hint"]
    assert _json(_vitco(remote | {"VITCO_SERVER": url}, "status", "--json")) == {"projects": []}

    started = _vitco(
        remote, "--server", url, "run", str(DEMO_BRIEF), "--workflow", "careful", "--json"
    )
    paused = _json(started)
    assert started.returncode == 1 and paused["status"] == "awaiting_approval"
    run_id = paused["run_id"]
    assert f"vitco approve {run_id}" in [step["command"] for step in paused["next"]]

    approved = _vitco(remote, "--server", url, "approve", run_id, "--json")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert _json(approved)["status"] == "delivered"
    assert _json(approved)["repo"] == f"/v1/runs/{run_id}/repo"

    def both(*args: str) -> tuple[Any, Any]:
        there = _vitco(remote, "--server", url, *args)
        here = _vitco(local, *args)
        assert there.returncode == here.returncode == 0, there.stderr + here.stderr
        return there, here

    there, here = both("status", run_id, "--json")
    theirs, ours = _json(there), _json(here)
    assert _without_paths(theirs) == _without_paths(ours)
    assert theirs["events"] and theirs["status"] == "delivered"

    there, here = both("show", run_id, "--json")
    theirs, ours = _json(there), _json(here)
    assert _without_paths(theirs.pop("report")) == _without_paths(ours.pop("report"))
    assert theirs == ours and theirs["plan"]["tasks"]

    for args in (("costs", run_id, "--by", "model"), ("costs", "--by", "role")):
        there, here = both(*args, "--json")
        assert _json(there) == _json(here), args
    assert _json(there)["total"]["calls"] > 0

    # the human text too, but for the lines that name a host path (or where it runs)
    there, here = both("status", run_id)
    assert _lines(there.stdout) == _lines(here.stdout)
    assert "DELIVERED" in there.stdout and "events" in there.stdout
    there, here = both("costs", run_id)
    assert _lines(there.stdout) == _lines(here.stdout)

    listed = _json(_vitco(remote, "--server", url, "status", "--json"))["projects"]
    assert [(p["run_id"], p["status"]) for p in listed] == [(run_id, "delivered")]

    # ids as locally: whole or a unique prefix, with or without the kind's letter, a project's
    # naming its latest run; a prefix that names none or several is an error that says so
    project_id = listed[0]["project_id"]
    for ident in (run_id[:6], run_id[2:9], project_id[:7]):
        got = _vitco(remote, "--server", url, "status", ident, "--json")
        assert _json(got)["run_id"] == run_id, (ident, got.stderr)
    missing = _vitco(remote, "--server", url, "costs", "r-zzzz", "--json")
    assert missing.returncode == 1 and _json(missing)["code"] == "not_found"
    store = Store(open_database(Settings(home=Path(local["VITCO_HOME"])).resolved_database_url))
    brief_id = store.get_run(run_id).brief_id
    twins = [store.create_run(project_id, brief_id, "m", "careful", run_id=f"r-abcabc00000{i}").id
             for i in (1, 2)]  # fmt: skip
    ambiguous = _vitco(remote, "--server", url, "resume", "r-abcabc", "--json")
    assert ambiguous.returncode == 1 and _json(ambiguous)["code"] == "ambiguous_id"
    assert all(twin in _json(ambiguous)["error"] for twin in twins)


def _lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if not ln.strip().startswith(("repository", "mail"))]
