"""`vitco sandbox run` and `vitco doctor`, run as a user runs them (a real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sandbox.sandbox_helpers import skip_or_fail
from vitco.sandbox import BwrapSandbox

VITCO = [sys.executable, "-c", "from vitco.cli.app import main; main()"]


def _vitco(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VITCO, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def test_run_streams_and_mirrors_the_exit_code(bwrap: BwrapSandbox, workspace: Path) -> None:
    proc = _vitco(
        "sandbox", "run", "-C", str(workspace), "--",
        "sh", "-c", "echo to-out; echo to-err >&2; exit 7",
    )  # fmt: skip
    assert proc.returncode == 7
    assert proc.stdout == "to-out\n"
    assert proc.stderr.startswith("to-err\n")
    assert "bwrap" in proc.stderr and "exit status 7" in proc.stderr


def test_run_reports_the_limit(bwrap: BwrapSandbox, workspace: Path) -> None:
    proc = _vitco(
        "sandbox", "run", "-C", str(workspace), "--limit", "cpu=1", "--",
        sys.executable, "-c", "while True: pass",
    )  # fmt: skip
    assert proc.returncode == 128 + 24  # SIGXCPU
    assert "stopped by the cpu limit" in proc.stderr


def test_run_json(bwrap: BwrapSandbox, workspace: Path) -> None:
    proc = _vitco(
        "sandbox", "run", "-C", str(workspace), "--json", "-l", "output=1000", "-l", "wall=20",
        "--", "yes", "flood",
    )  # fmt: skip
    payload = json.loads(proc.stdout)
    assert payload["limit_hit"] == "output"
    assert payload["sandbox"] == "bwrap"
    assert len(payload["stdout"]) == 1000
    assert proc.returncode == 128 + 9


def test_run_rejects_unknown_limit() -> None:
    proc = _vitco("sandbox", "run", "--limit", "bogus=1", "--", "true")
    assert proc.returncode == 2
    assert "unknown limit 'bogus'" in proc.stderr


def test_doctor_json_reports_a_working_sandbox(bwrap: BwrapSandbox) -> None:
    proc = _vitco("doctor", "--json")
    payload = json.loads(proc.stdout)
    assert proc.returncode == 0, payload
    assert payload["ok"] is True
    by_name = {c["name"]: c for c in payload["checks"]}
    assert by_name["no network"]["status"] == "ok"
    assert by_name["unprivileged"]["status"] == "ok"


def test_doctor_names_the_fix_when_bwrap_is_missing(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # nothing on PATH: no bwrap, no prlimit
    proc = _vitco("doctor", "--json", env=env)
    payload = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert payload["ok"] is False
    bwrap = next(c for c in payload["checks"] if c["name"] == "bwrap")
    assert bwrap["status"] == "fail"
    assert "apt-get install -y bubblewrap" in bwrap["fix"]


def test_missing_sandbox_skips_locally_but_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no bwrap here"):
        skip_or_fail("no bwrap here")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and the sandbox cannot run"):
        skip_or_fail("no bwrap here")
