"""Ctrl-C through a real terminal, at many points of a run: it stops as ``interrupted`` (exit
130, with the command that continues it), and ``vitco resume`` delivers it with no model call,
commit, deployment or mail made twice. SIGTERM (what ``timeout``, systemd and Kubernetes send)
stops it the same way."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.effects import mail_kinds
from tests.workflow.test_crash_resume import BRIEF, CASSETTE, DEMO_CALLS, gone, vitco
from vitco.config import Settings
from vitco.integrations.git.repo import Repo
from vitco.store import open_store

pytestmark = pytest.mark.slow


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITCO_")}
    return env | {"VITCO_HOME": str(home), "COLUMNS": "200"}


def _read_until(fd: int, marker: bytes, seen: bytearray, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                return marker in seen
            if not chunk:
                return marker in seen
            seen.extend(chunk)
    return marker in seen


def _run_in_a_terminal_and_press_ctrl_c(home: Path, marker: str) -> tuple[int, str]:
    """Start ``vitco run`` on a pseudo-terminal (its controlling terminal, so Ctrl-C reaches
    it and its foreground children as the kernel's line discipline sends it), wait until
    ``marker`` is printed, type Ctrl-C, and return the exit status and everything printed."""
    argv = [sys.executable, "-m", "vitco.cli", "run", str(BRIEF), "--model", f"replay:{CASSETTE}"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: a new session whose controlling terminal is the pty
        os.execve(sys.executable, argv, _env(home))
    seen = bytearray()
    try:
        assert _read_until(fd, marker.encode(), seen, 120), seen.decode(errors="replace")
        os.write(fd, b"\x03")  # the terminal turns it into SIGINT for the foreground group
        _read_until(fd, b"\x00never", seen, 120)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def _assert_resumes_without_repeats(home: Path) -> None:
    store = open_store(Settings(home=home))
    (run,) = store.runs()
    assert run.status == "interrupted", (run.status, run.reason)
    assert run.reason and f"vitco resume {run.id}" in run.reason
    assert {t.status for t in store.tasks(run.id)} <= {"pending", "done", "stopped"}
    repo_path = store.get_project(run.project_id).repo_path
    assert gone(repo_path), "a sandboxed process outlived the interrupted run"

    resumed = vitco(home, "resume", run.id, "--json")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    report = json.loads(resumed.stdout)
    assert report["status"] == "delivered"
    calls = store.calls(run_id=run.id)
    per_request = Counter((c.call_key, c.fingerprint) for c in calls)
    assert all(n == 1 for n in per_request.values()), per_request
    assert len(calls) == DEMO_CALLS
    subjects = Repo(Path(report["repo"])).git("log", "--format=%s", "main").splitlines()
    assert len(subjects) == 4 and len(set(subjects)) == 4
    assert len(store.artifacts(run.id, "deployment")) == 1
    # an interrupt is the operator's stop, not the client's business: no needs-attention mail
    assert mail_kinds(home / "outbox") == {"accepted": 1, "plan_ready": 1, "delivered": 1}


@pytest.mark.usefixtures("sandbox")
@pytest.mark.parametrize(
    "marker",
    [
        "analyst reads the brief",  # a model call
        "running T1's tests in the sandbox",  # the venv is made, then the tests run
        "T1 merged into main",  # git: rebase and fast-forward of the next task follow
        "running T2's tests in the sandbox",  # T2's first attempt fails its tests
        "running the whole test suite on main",  # integration
        "devops delivers the project",  # the app starts and is checked
    ],
)
def test_ctrl_c_in_a_terminal_stops_cleanly_and_resume_delivers(
    short_home: Path, marker: str
) -> None:
    code, printed = _run_in_a_terminal_and_press_ctrl_c(short_home, marker)
    assert code == 130, printed[-3000:]
    assert "Traceback" not in printed
    assert "vitco resume r-" in printed
    _assert_resumes_without_repeats(short_home)


@pytest.mark.usefixtures("sandbox")
def test_sigterm_stops_a_run_as_interrupted_not_running_forever(short_home: Path) -> None:
    argv = [sys.executable, "-m", "vitco.cli", "run", str(BRIEF), "--model", f"replay:{CASSETTE}"]
    proc = subprocess.Popen(
        argv, env=_env(short_home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    buffered = b""
    deadline = time.monotonic() + 120
    while b"running T1's tests" not in buffered and time.monotonic() < deadline:
        buffered += proc.stdout.read1(65536)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, (buffered + out).decode(errors="replace")[-2000:]
    _assert_resumes_without_repeats(short_home)
