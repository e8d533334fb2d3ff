"""Ctrl-C through a real terminal, at many points of a run: it stops as ``interrupted`` (exit
130, with the command that continues it), and ``vitco resume`` delivers it with no model call,
commit, deployment or mail made twice. SIGTERM (what ``timeout``, systemd and Kubernetes send)
stops it the same way. One run is stopped at every point in turn, each ``vitco resume`` in a
terminal stopped at the next one (a run per point took 121 s of the suite, the chain 44 s)."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.effects import mail_kinds
from tests.workflow.test_crash_resume import (
    BRIEF,
    CASSETTE,
    assert_each_call_paid_once,
    gone,
    vitco,
)
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


def _in_a_terminal_press_ctrl_c(home: Path, args: list[str], marker: str) -> tuple[int, str]:
    """Start ``vitco ARGS`` on a pseudo-terminal (its controlling terminal, so Ctrl-C reaches
    it and its foreground children as the kernel's line discipline sends it), wait until
    ``marker`` is printed, type Ctrl-C, and return the exit status and everything printed."""
    argv = [sys.executable, "-m", "vitco.cli", *args]
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


def _sigterm(home: Path, args: list[str], marker: str) -> tuple[int, str]:
    """Start ``vitco ARGS`` with its output on a pipe, wait until ``marker`` is printed, and
    send it SIGTERM (what ``timeout``, systemd and Kubernetes send)."""
    argv = [sys.executable, "-m", "vitco.cli", *args]
    proc = subprocess.Popen(argv, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    buffered = b""
    deadline = time.monotonic() + 120
    while marker.encode() not in buffered and time.monotonic() < deadline:
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:  # it ended before the marker: the assertions below say how
            break
        buffered += chunk
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    return proc.returncode, (buffered + out).decode(errors="replace")


def _assert_stopped(home: Path, why: str) -> str:
    """The run stopped as ``interrupted``, saying how to continue it, with no sandboxed
    process left behind; returns its id."""
    store = open_store(Settings(home=home))
    (run,) = store.runs()
    assert run.status == "interrupted", (why, run.status, run.reason)
    assert run.reason and f"vitco resume {run.id}" in run.reason, why
    assert {t.status for t in store.tasks(run.id)} <= {"pending", "done", "stopped"}, why
    repo_path = store.get_project(run.project_id).repo_path
    assert gone(repo_path), f"{why}: a sandboxed process outlived the interrupted run"
    return run.id


def _assert_resumes_without_repeats(home: Path, stops: int) -> None:
    store = open_store(Settings(home=home))
    (run,) = store.runs()
    resumed = vitco(home, "resume", run.id, "--json")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    report = json.loads(resumed.stdout)
    assert report["status"] == "delivered"
    assert_each_call_paid_once(store, run.id)
    subjects = Repo(Path(report["repo"])).git("log", "--format=%s", "main").splitlines()
    assert len(subjects) == 4 and len(set(subjects)) == 4
    assert len(store.artifacts(run.id, "deployment")) == 1
    # an interrupt is the operator's stop, not the client's business: no needs-attention mail
    assert mail_kinds(home / "outbox") == {"accepted": 1, "plan_ready": 1, "delivered": 1}
    resumes = [e for e in store.events(run.id) if e.kind == "run" and "resumed" in e.message]
    assert len(resumes) == stops


# where the run is stopped, in the order a run passes them, and how: one run, stopped at each
# point in turn, each resume (in a terminal too) stopped at the next one
STOPS = [
    ("analyst reads the brief", "ctrl-c"),  # a model call
    ("running T1's tests in the sandbox", "sigterm"),  # the venv is made, then the tests run
    ("running T1's tests in the sandbox", "ctrl-c"),  # the same again, from the terminal
    ("T1 merged into main", "ctrl-c"),  # git: rebase and fast-forward of the next task follow
    ("running T2's tests in the sandbox", "ctrl-c"),  # T2's first attempt fails its tests
    ("running the whole test suite on main", "ctrl-c"),  # integration
    ("devops delivers the project", "ctrl-c"),  # the app starts and is checked
]


@pytest.mark.usefixtures("sandbox")
def test_ctrl_c_and_sigterm_stop_cleanly_at_every_point_and_resume_delivers(
    short_home: Path,
) -> None:
    args = ["run", str(BRIEF), "--model", f"replay:{CASSETTE}"]
    for marker, how in STOPS:
        why = f"{how} at {marker!r}"
        if how == "ctrl-c":
            code, printed = _in_a_terminal_press_ctrl_c(short_home, args, marker)
            assert "vitco resume r-" in printed, f"{why}: {printed[-3000:]}"
        else:
            code, printed = _sigterm(short_home, args, marker)
        assert code == 130, f"{why}: {printed[-3000:]}"
        assert "Traceback" not in printed, f"{why}: {printed[-3000:]}"
        args = ["resume", _assert_stopped(short_home, why)]
    _assert_resumes_without_repeats(short_home, len(STOPS))
