"""Network and filesystem confinement: hostile programs try to get out; the host is unchanged."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from vitco.sandbox import BadWorkspace, BwrapSandbox, Limits


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


CONNECT = """
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()
    print("connected")
except OSError as exc:
    print(type(exc).__name__, exc.errno)
"""


def test_host_loopback_listener_is_unreachable(
    bwrap: BwrapSandbox, workspace: Path, host_listener: tuple[socket.socket, int]
) -> None:
    srv, port = host_listener
    result = bwrap.run([*_py(CONNECT), str(port)], workspace)
    assert result.ok, result
    assert result.stdout.split()[0] == "ConnectionRefusedError"  # its own, empty loopback
    with pytest.raises(TimeoutError):
        srv.accept()


def test_only_loopback_interface(bwrap: BwrapSandbox, workspace: Path) -> None:
    result = bwrap.run(_py("import socket; print(socket.if_nameindex())"), workspace)
    assert result.ok, result
    assert result.stdout.strip() == "[(1, 'lo')]"
    assert len(socket.if_nameindex()) >= 1  # the host's, for contrast, is untouched


WRITE = """
import sys
for target in sys.argv[1:]:
    try:
        with open(target, "w") as fh:
            fh.write("pwned")
        print("wrote", target)
    except OSError as exc:
        print("refused", target, type(exc).__name__)
"""


def test_writes_outside_the_workspace_fail_or_stay_private(
    bwrap: BwrapSandbox, workspace: Path, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex
    outside = tmp_path / "outside"
    outside.mkdir()
    (workspace / "link").symlink_to(outside)  # planted: a symlink pointing out
    etc = Path(f"/etc/vitco-pwned-{tag}")
    home = Path.home() / f"vitco-pwned-{tag}"
    host_tmp = Path(f"/tmp/vitco-pwned-{tag}")
    dotdot = workspace / ".." / f"pwned-{tag}"
    via_link = workspace / "link" / f"pwned-{tag}"
    targets = [etc, home, host_tmp, dotdot, via_link, Path("/usr/bin/vitco-pwned")]
    result = bwrap.run([*_py(WRITE), *map(str, targets)], workspace)
    assert result.ok, result
    lines = result.stdout.splitlines()
    # The sandbox's own /tmp is private: the write succeeds there and nowhere else.
    assert lines[2] == f"wrote {host_tmp}"
    for line in lines[:2] + lines[3:]:
        assert line.startswith("refused "), line
    for t in targets:
        assert not t.exists(), t
    assert not (tmp_path / f"pwned-{tag}").exists()
    assert list(outside.iterdir()) == []


def test_symlink_made_inside_cannot_write_out(
    bwrap: BwrapSandbox, workspace: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("original")
    code = (
        f"import os; os.symlink({str(victim)!r}, 'evil')\n"
        "try:\n    open('evil', 'w').write('pwned'); print('wrote')\n"
        "except OSError as exc:\n    print('refused', type(exc).__name__)\n"
    )
    result = bwrap.run(_py(code), workspace)
    assert result.stdout.startswith("refused"), result
    assert victim.read_text() == "original"
    assert (workspace / "evil").is_symlink()  # the link exists; it leads nowhere inside


READ = """
import sys
for target in sys.argv[1:]:
    try:
        with open(target) as fh:
            print("read", target, fh.read()[:20])
    except OSError as exc:
        print("denied", target, type(exc).__name__)
"""


def test_cannot_read_data_dir_home_or_other_workspaces(bwrap: BwrapSandbox, tmp_path: Path) -> None:
    home = tmp_path / "vitco-home"
    projects = home / "projects"
    mine, theirs = projects / "p1", projects / "p2"
    for d in (mine, theirs):
        d.mkdir(parents=True)
    (home / "vitco.sqlite").write_text("DATABASE")
    (home / "secrets.key").write_text("SECRET")
    (theirs / "app.py").write_text("THEIRS")
    (mine / "app.py").write_text("MINE")
    sandbox = BwrapSandbox(protected=[home])  # the fixture proved bwrap works here
    targets = [
        home / "vitco.sqlite",
        home / "secrets.key",
        theirs / "app.py",
        Path("/root/.bash_history"),
        Path("/etc/shadow"),
        mine / "app.py",
    ]
    result = sandbox.run([*_py(READ), *map(str, targets)], mine)
    assert result.ok, result
    lines = result.stdout.splitlines()
    for line in lines[:-1]:
        assert line.startswith("denied "), line
    assert lines[-1] == f"read {mine / 'app.py'} MINE"
    with pytest.raises(BadWorkspace, match="must not see"):
        sandbox.run(["true"], home)


def test_git_dir_is_read_only_and_host_git_keeps_working(
    bwrap: BwrapSandbox, workspace: Path
) -> None:
    git = ["git", "-C", str(workspace), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    hook = workspace / ".git" / "hooks" / "pre-commit"
    code = (
        f"import pathlib\nfor p in [{str(hook)!r}, '.git/config']:\n"
        "    try:\n        open(p, 'a').write('\\nexit 1\\n'); print('wrote')\n"
        "    except OSError as exc:\n        print('refused', type(exc).__name__)\n"
        "pathlib.Path('made_in_sandbox.txt').write_text('hello')\n"
        "pathlib.Path('pkg').mkdir(); pathlib.Path('pkg/mod.py').write_text('x = 1')\n"
    )
    result = bwrap.run(_py(code), workspace)
    assert result.ok, result
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["refused", "refused"]
    assert not hook.exists()
    # The host (root here) reads, edits, commits and deletes what the sandbox wrote.
    made = workspace / "made_in_sandbox.txt"
    made.write_text(made.read_text() + " from host")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "sandbox output"], check=True)
    (workspace / "pkg" / "mod.py").unlink()
    assert made.read_text() == "hello from host"


def test_within_shows_only_that_directory(bwrap: BwrapSandbox, workspace: Path) -> None:
    (workspace / "src.py").write_text("secret = 1\n")
    (workspace / ".venv").mkdir()
    result = bwrap.run([*_py(WRITE), "installed.txt", "../src.py"], workspace, within=".venv")
    lines = result.stdout.splitlines()
    assert lines[0] == "wrote installed.txt"
    assert lines[1].startswith("refused ../src.py")  # the rest of the workspace is not there
    assert (workspace / "src.py").read_text() == "secret = 1\n"
    assert (workspace / ".venv" / "installed.txt").read_text() == "pwned"


def test_within_never_follows_a_link(bwrap: BwrapSandbox, workspace: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (workspace / ".venv").symlink_to(outside)
    with pytest.raises(BadWorkspace, match="not a plain directory"):
        bwrap.run([*_py(WRITE), "x.txt"], workspace, within=".venv")
    assert list(outside.iterdir()) == []


def test_refuses_workspace_outside_allowed_shapes(bwrap: BwrapSandbox, tmp_path: Path) -> None:
    with pytest.raises(BadWorkspace):
        bwrap.run(["true"], Path("/"))
    with pytest.raises(BadWorkspace, match="not a directory"):
        bwrap.run(["true"], tmp_path / "missing")
    with pytest.raises(BadWorkspace, match="not a plain directory"):
        bwrap.run(["true"], tmp_path, within="..", limits=Limits())


def test_host_files_created_by_root_become_writable_for_the_sandbox(
    bwrap: BwrapSandbox, workspace: Path
) -> None:
    src = workspace / "settings.txt"
    src.write_text("v1")
    os.chmod(src, 0o644)
    result = bwrap.run(_py("open('settings.txt', 'a').write(' v2')"), workspace)
    assert result.ok, result
    assert src.read_text() == "v1 v2"


def test_worktree_inside_the_workspace_stays_usable_by_host_git(
    bwrap: BwrapSandbox, workspace: Path
) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "-C", str(workspace), "init", "-q"], check=True)
    subprocess.run([*git, "-C", str(workspace), "commit", "-q", "--allow-empty", "-m", "0"])
    tree = workspace / ".vitco" / "worktrees" / "T1"
    subprocess.run([*git, "-C", str(workspace), "worktree", "add", "-q", str(tree)], check=True)
    gitfile = (tree / ".git").read_text()
    code = (
        "import pathlib\n"
        "try:\n    open('.vitco/worktrees/T1/.git', 'w').write('gitdir: /tmp/evil')\n"
        "except OSError as exc:\n    print('refused', type(exc).__name__)\n"
        "pathlib.Path('.vitco/worktrees/T1/new.py').write_text('x = 1')\n"
    )
    result = bwrap.run(_py(code), workspace)
    assert result.ok, result
    assert result.stdout.startswith("refused")
    assert (tree / ".git").read_text() == gitfile
    # Neither the repo nor the worktree is rejected by root's git as of "dubious ownership".
    for repo in (workspace, tree):
        status = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True
        )
        assert status.returncode == 0, status.stderr
    assert (
        "new.py"
        in subprocess.run(
            ["git", "-C", str(tree), "status", "--porcelain"], capture_output=True, text=True
        ).stdout
    )
