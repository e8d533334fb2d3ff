"""Hostile programs against the limits: each is stopped, attributed, and leaves nothing behind."""

from __future__ import annotations

import os
import pwd
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.sandbox.sandbox_helpers import describe, token_pids
from vitco.sandbox import BwrapSandbox, Limits
from vitco.sandbox.identity import subordinate_range


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


COUNTING_FORKER = """
import os, time
n = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        n += 1
finally:
    print(n, flush=True)
"""


def test_fork_bomb_is_capped_and_reaped(bwrap: BwrapSandbox, workspace: Path) -> None:
    token = f"vitco-forker-{uuid.uuid4().hex}"  # forked children keep the parent's argv
    limits = Limits(processes=40, wall_s=20)
    result = bwrap.run([*_py(COUNTING_FORKER), token], workspace, limits)
    assert result.limit_hit == "processes", result
    assert result.exit_code not in (0, None)
    # fork failed before the cap (the uid's count is shared with concurrent sandboxes, so
    # it may fail even earlier), while every child was still sleeping
    assert int(result.stdout) < 40
    assert result.duration_s < 10  # did not wait for the 60 s sleepers
    left = token_pids(token)
    assert left == [], describe(left)


def test_true_fork_bomb_is_killed_by_the_wall_clock(bwrap: BwrapSandbox, workspace: Path) -> None:
    bomb = (
        "import os, time\nwhile True:\n    try: os.fork()\n    except OSError: time.sleep(0.01)\n"
    )
    token = f"vitco-bomb-{uuid.uuid4().hex}"
    started = time.monotonic()
    result = bwrap.run([*_py(bomb), token], workspace, Limits(processes=30, cpu_s=10, wall_s=2))
    assert result.limit_hit == "wall"
    assert time.monotonic() - started < 8
    left = token_pids(token)
    assert left == [], describe(left)
    # The host can still start processes.
    assert os.waitpid(os.spawnv(os.P_NOWAIT, "/bin/true", ["true"]), 0)[1] == 0


def test_memory_bomb(bwrap: BwrapSandbox, workspace: Path) -> None:
    bomb = "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 * 1024))\n"
    result = bwrap.run(_py(bomb), workspace, Limits(memory_mb=256, wall_s=20))
    assert result.limit_hit == "memory", result
    assert "MemoryError" in result.stderr
    assert result.exit_code == 1


def test_cpu_spin(bwrap: BwrapSandbox, workspace: Path) -> None:
    result = bwrap.run(_py("while True: pass"), workspace, Limits(cpu_s=1, wall_s=20))
    assert result.limit_hit == "cpu"
    assert result.signal is not None and result.exit_code is None
    assert result.duration_s < 5


def test_file_size(bwrap: BwrapSandbox, workspace: Path) -> None:
    code = "open('big', 'wb').write(b'x' * (3 * 1024 * 1024))"
    result = bwrap.run(_py(code), workspace, Limits(file_size_mb=1))
    assert result.limit_hit == "file_size", result
    assert (workspace / "big").stat().st_size <= 1024 * 1024


def test_open_files(bwrap: BwrapSandbox, workspace: Path) -> None:
    code = "fs = [open('/dev/null') for _ in range(1000)]"
    result = bwrap.run(_py(code), workspace, Limits(open_files=64))
    assert result.limit_hit == "open_files", result


def test_detached_grandchild_dies_with_the_sandbox(bwrap: BwrapSandbox, workspace: Path) -> None:
    token = f"vitco-detached-{uuid.uuid4().hex}"
    code = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', '{token}'],\n"
        "    start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print('parent exits')\n"
    )
    result = bwrap.run(_py(code), workspace, Limits(wall_s=20))
    assert result.ok and result.stdout.strip() == "parent exits"
    deadline = time.monotonic() + 2
    while token_pids(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert token_pids(token) == []


def test_parent_environment_secret_is_absent(
    bwrap: BwrapSandbox, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VITCO_OPENAI_API_KEY", "sk-test-secret")
    code = (
        "import os, pathlib\n"
        "print(sorted(os.environ))\n"
        # The host's processes (and their /proc/PID/environ) are not in this pid namespace.
        f"print(pathlib.Path('/proc/{os.getpid()}').exists())\n"
    )
    result = bwrap.run(_py(code), workspace, env={"APP_MODE": "test"})
    assert result.ok, result
    names, host_visible = result.stdout.splitlines()
    assert "VITCO_OPENAI_API_KEY" not in names and "APP_MODE" in names
    assert "sk-test-secret" not in result.stdout
    assert host_visible == "False"


def test_output_flood_is_capped(bwrap: BwrapSandbox, workspace: Path) -> None:
    seen: list[bytes] = []
    result = bwrap.run(
        ["yes", "flood"],
        workspace,
        Limits(output_bytes=100_000, wall_s=20),
        on_output=lambda _stream, chunk: seen.append(chunk),
    )
    assert result.limit_hit == "output"
    assert 0 < len(result.stdout) <= 100_000
    assert sum(map(len, seen)) == len(result.stdout.encode())
    assert result.duration_s < 5


def test_wall_clock(bwrap: BwrapSandbox, workspace: Path) -> None:
    result = bwrap.run(["sleep", "30"], workspace, Limits(wall_s=0.5))
    assert result.limit_hit == "wall"
    assert result.duration_s < 3


def test_each_project_runs_as_its_own_unprivileged_uid(
    bwrap: BwrapSandbox, workspace: Path
) -> None:
    seen = {
        slot: int(bwrap.for_project(slot).run(["id", "-u"], workspace).stdout) for slot in (0, 1, 5)
    }
    anonymous = int(bwrap.run(["id", "-u"], workspace).stdout)
    if os.getuid() == 0:
        found = subordinate_range("vitco-sandbox")
        assert found is not None
        first_uid, _first_gid, count = found
        assert seen == {0: first_uid, 1: first_uid + 1, 5: first_uid + 5}
        assert anonymous == first_uid + count - 1  # a uid no project gets
        assert pwd.getpwnam("vitco-sandbox").pw_uid not in (*seen.values(), anonymous)
    else:
        assert set(seen.values()) == {anonymous} == {os.getuid()}


FILL = """
import os, sys, time
os.makedirs(sys.argv[1], exist_ok=True)
for i in range(200):
    with open(os.path.join(sys.argv[1], f"{i}.bin"), "wb") as fh:
        fh.write(b"\\1" * (1 << 20))
    time.sleep(0.01)
print("wrote everything")
"""


@pytest.mark.parametrize("where", ["junk", "/tmp/junk"])
def test_disk_use_is_capped_in_the_workspace_and_in_tmp(
    bwrap: BwrapSandbox, workspace: Path, where: str
) -> None:
    result = bwrap.run([sys.executable, "-c", FILL, where], workspace, Limits(disk_mb=16))
    assert result.limit_hit == "disk", result
    assert "wrote everything" not in result.stdout
    left = sum(p.stat().st_size for p in workspace.rglob("*") if p.is_file())
    assert left < 200 << 20  # stopped long before the 200 MiB it meant to write
    assert list((bwrap.state_root / "tmp").iterdir()) == []  # the private /tmp is gone


def test_a_started_app_that_fills_the_disk_is_stopped(bwrap: BwrapSandbox, workspace: Path) -> None:
    with bwrap.start(
        [sys.executable, "-c", FILL + "time.sleep(60)\n", "junk"], workspace, Limits(disk_mb=16)
    ) as proc:
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.poll() is not None
        assert proc.limit_hit == "disk"
