"""`vitco deployments list | stop | logs` as a user runs them, with and without --json, on a
data dir no `vitco serve` supervises (the running case is in tests/api/test_deployments.py)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

from vitco.config import Settings
from vitco.deployments import lock_path
from vitco.store import open_store
from vitco.store.deployments import DeploymentStore

VITCO = [sys.executable, "-m", "vitco.cli"]


def _vitco(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"VITCO_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([*VITCO, *args], env=env, capture_output=True, text=True, timeout=60)


def test_list_stop_and_logs_on_the_command_line(short_home: Path) -> None:
    store = open_store(Settings(home=short_home))
    rows = DeploymentStore(store.sessions)
    project = store.create_project("todo", "/nowhere")
    run = store.create_run(project.id, store.create_brief(project.id, "b", "# b").id, "m", "x")
    made = rows.save(project.id, run.id, port=20042, root="/r", toolchain="python-service", plan={})
    log = short_home / "app.log"
    log.write_bytes(b"".join(b"line %d\n" % i for i in range(10)) + b"\x1b]0;owned\x07 done\n")
    rows.update(made.id, status="running", pid=4242, log_path=str(log))

    listed = json.loads(_vitco(short_home, "deployments", "list", "--json").stdout)
    assert listed["supervised"] is False
    (shown,) = listed["deployments"]
    assert (shown["id"], shown["url"], shown["status"]) == (
        made.id, "http://127.0.0.1:20042", "running",
    )  # fmt: skip
    assert shown["state"] == "down" and shown["pid"] is None  # no serve: nothing runs
    human = _vitco(short_home, "deployments", "list").stdout
    assert made.id in human and "down (vitco serve is not running)" in human

    lock_path(Settings(home=short_home)).parent.mkdir()
    with lock_path(Settings(home=short_home)).open("a") as held:  # as a running serve does
        fcntl.flock(held, fcntl.LOCK_EX)
        up = json.loads(_vitco(short_home, "deployments", "list", "--json").stdout)
    assert up["supervised"] is True and up["deployments"][0]["state"] == "running"

    logs = json.loads(
        _vitco(short_home, "deployments", "logs", made.id[:6], "-n", "2", "--json").stdout
    )
    assert logs == {"id": made.id, "lines": ["line 9", "\\x1b]0;owned\\x07 done"]}
    assert "\x1b" not in _vitco(short_home, "deployments", "logs", project.id).stdout

    stopped = json.loads(_vitco(short_home, "deployments", "stop", project.id, "--json").stdout)
    assert stopped["status"] == stopped["state"] == "stopped" and stopped["stopped_at"]
    assert rows.wanted() == []
    missing = _vitco(short_home, "deployments", "stop", "d-nothing", "--json")
    assert missing.returncode == 1 and json.loads(missing.stdout)["code"] == "NotFound"
