"""The environment a sandboxed command starts with, the Python it may use, and which
variables a model-written plan may add to it."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from vitco.sandbox.protocol import DATA_ENV

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# glibc's list of variables it drops for a setuid program (sysdeps/generic/unsecvars.h): each
# makes the dynamic loader or libc load or read a file it names. A sandboxed command's
# environment is also bwrap's, and bwrap runs on the host (as root when vitco does) before it
# confines anything, so none of these may ever be passed in.
_LOADER_ENV = frozenset(
    {
        "GCONV_PATH",
        "GETCONF_DIR",
        "GLIBC_TUNABLES",
        "HOSTALIASES",
        "LOCALDOMAIN",
        "LOCPATH",
        "MALLOC_TRACE",
        "NIS_PATH",
        "NLSPATH",
        "RESOLV_HOST_CONF",
        "RES_OPTIONS",
        "TZDIR",
    }
)
RESERVED_ENV = frozenset(
    {"PATH", "HOME", "TMPDIR", "TMP", "TEMP", "USER", "LOGNAME", "LANG", "LC_ALL", "PWD"}
    | {"PYTHONUNBUFFERED", "NODE_PATH", "NODE_OPTIONS", DATA_ENV}
)
"""Variables vitco or a toolchain sets for sandboxed commands; a plan may not set them."""


def python_dirs() -> list[Path]:
    """The Python installation running vitco (its venv and the base install), de-duplicated."""
    dirs: list[Path] = []
    for p in (sys.base_prefix, sys.prefix):
        real = Path(os.path.realpath(p))
        if real not in dirs:
            dirs.append(real)
    return dirs


def _loader(name: str) -> bool:
    return name.startswith("LD_") or name in _LOADER_ENV


def refused_env(name: str) -> str | None:
    """Why a model-written plan may not set the variable ``name`` (a phrase that follows the
    name in an error), or ``None`` if it may."""
    if not _ENV_NAME.fullmatch(name):
        return "is not a variable name (ASCII letters, digits and _, not starting with a digit)"
    if _loader(name):
        return "changes what the dynamic loader loads, which no plan may do"
    if name.startswith("VITCO_"):
        return "is one of vitco's own variables"
    if name in RESERVED_ENV:
        return "is set by vitco for every sandboxed app"
    return None


def base_env(
    workspace: Path,
    home: Path,
    tmp: Path,
    extra: Mapping[str, str] | None,
    data: str | None = None,
) -> dict[str, str]:
    """The whole environment of a sandboxed command: nothing is inherited from vitco's, so no
    secret can leak through it. ``extra`` (the step's own variables) wins, except over
    ``DATA_ENV``, which names ``data`` (where the command sees its data dir) when there is one;
    a loader variable in ``extra`` (``LD_PRELOAD``...) raises ``ValueError``: it would act on
    bwrap itself, outside the sandbox. ``USER`` and ``LOGNAME`` are set because a project's
    uid has no passwd entry, and tools that ask who runs them (pytest's tmp_path, getpass)
    would fail."""
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
    for name in extra or {}:
        if _loader(name):
            raise ValueError(f"{name} would act on bwrap on the host; it is never passed in")
    env.update(extra or {})
    env.pop(DATA_ENV, None)
    if data is not None:
        env[DATA_ENV] = data
    return env


def substitute(cmd: Sequence[str], **values: str) -> list[str]:
    """``cmd`` with every ``{name}`` placeholder of ``values`` replaced."""
    out = []
    for arg in cmd:
        for name, value in values.items():
            arg = arg.replace("{" + name + "}", value)
        out.append(arg)
    return out
