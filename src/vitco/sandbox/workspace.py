"""Workspace checks and the environment a sandboxed command starts with.

``<workspace>/.vitco/`` belongs to the sandbox: the app socket lives there, and the unsafe
runner puts HOME and TMPDIR there. Delivered projects should ignore it (``.gitignore``).
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from vitco.sandbox.exceptions import WorkspaceError

PRIVATE_DIR = ".vitco"
SOCKET_NAME = "app.sock"
_SUN_PATH_MAX = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux


def check_workspace(workspace: Path, protected: Iterable[Path] = ()) -> Path:
    """The absolute, symlink-free workspace path; refuses one that is missing, the root, the
    host's home, or that contains a ``protected`` path (vitco's data dir)."""
    ws = Path(os.path.realpath(workspace))
    if not ws.is_dir():
        raise WorkspaceError(ws, "not a directory")
    if ws == Path("/") or ws == Path(os.path.realpath(Path.home())):
        raise WorkspaceError(ws, "is / or the home directory; give each project its own dir")
    for p in protected:
        real = Path(os.path.realpath(p))
        if real == ws or ws in real.parents:
            raise WorkspaceError(ws, f"contains {real}, which sandboxed code must not see")
    return ws


def check_writable(workspace: Path, writable: Sequence[Path] | None) -> list[Path]:
    """Resolve ``writable`` (relative to the workspace or absolute); each must stay inside."""
    if writable is None:
        return [workspace]
    out: list[Path] = []
    for w in writable:
        real = Path(os.path.realpath(workspace / w))
        if real != workspace and workspace not in real.parents:
            raise WorkspaceError(workspace, f"writable path {w} is outside the workspace")
        real.mkdir(parents=True, exist_ok=True)
        out.append(real)
    return out


def socket_path(workspace: Path) -> Path:
    """Where a started app's socket is on the host: ``<workspace>/.vitco/app.sock``.

    Any length works: a path longer than a unix socket address allows (107 bytes) is reached
    through a short alias (a mount inside the sandbox, ``/proc/self/fd`` on the host).
    """
    return workspace / PRIVATE_DIR / SOCKET_NAME


def fresh_socket(workspace: Path) -> Path:
    """``socket_path(workspace)`` with its folder present and no stale socket left in it."""
    sock = socket_path(workspace)
    sock.parent.mkdir(exist_ok=True)
    sock.unlink(missing_ok=True)
    return sock


def fits(path: Path) -> bool:
    """Whether ``path`` fits in a unix socket address."""
    return len(str(path).encode()) <= _SUN_PATH_MAX


def connect_unix(sock: socket.socket, path: Path) -> None:
    """``sock.connect(path)``, also for paths too long for a socket address: through
    ``/proc/self/fd/N/<name>``, where N is a descriptor of the socket's directory."""
    if fits(path):
        sock.connect(str(path))
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        sock.connect(f"/proc/self/fd/{fd}/{path.name}")
    finally:
        os.close(fd)


def substitute_socket(cmd: Sequence[str], sock: Path) -> list[str]:
    """``cmd`` with every ``{socket}`` replaced by ``sock``."""
    return [arg.replace("{socket}", str(sock)) for arg in cmd]


def python_dirs() -> list[Path]:
    """The Python installation running vitco (its venv and the base install), de-duplicated."""
    dirs: list[Path] = []
    for p in (sys.base_prefix, sys.prefix):
        real = Path(os.path.realpath(p))
        if real not in dirs:
            dirs.append(real)
    return dirs


def base_env(
    workspace: Path, home: Path, tmp: Path, extra: Mapping[str, str] | None
) -> dict[str, str]:
    """The whole environment of a sandboxed command: nothing is inherited from vitco's, so no
    secret can leak through it. ``extra`` (the step's own variables) wins."""
    path = [str(workspace / ".venv" / "bin")]
    path += [str(d / "bin") for d in reversed(python_dirs())]
    path += ["/usr/local/bin", "/usr/bin", "/bin"]
    env = {
        "PATH": ":".join(path),
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PWD": str(workspace),
    }
    env.update(extra or {})
    return env
