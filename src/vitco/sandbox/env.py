"""The environment a sandboxed command starts with, and the Python it may use."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


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
    secret can leak through it. ``extra`` (the step's own variables) wins. ``USER`` and
    ``LOGNAME`` are set because a project's uid has no passwd entry, and tools that ask who
    runs them (pytest's tmp_path, getpass) would fail."""
    path = [str(workspace / ".venv" / "bin")]
    path += [str(d / "bin") for d in reversed(python_dirs())]
    path += ["/usr/local/bin", "/usr/bin", "/bin"]
    env = {
        "PATH": ":".join(path),
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PWD": str(workspace),
    }
    env.update(extra or {})
    return env


def substitute(cmd: Sequence[str], **values: str) -> list[str]:
    """``cmd`` with every ``{name}`` placeholder of ``values`` replaced."""
    out = []
    for arg in cmd:
        for name, value in values.items():
            arg = arg.replace("{" + name + "}", value)
        out.append(arg)
    return out
