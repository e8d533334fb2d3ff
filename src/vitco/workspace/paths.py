"""Path safety: every path a changeset names must stay inside the workspace.

Rejects absolute paths, ``..`` components, NUL bytes, paths into vitco's own folders (``.git``,
``.venv``, ``.vitco``) and any path that resolves through a symlink to somewhere outside.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath

from vitco.workspace.exceptions import UnsafePath

RESERVED = frozenset({".git", ".venv", ".vitco"})


def safe_path(root: Path, path: str, *, reserved: bool = True) -> Path:
    """The absolute path of ``path`` under ``root``; raises ``UnsafePath`` if it would escape.

    With ``reserved=False`` vitco's own folders are allowed (for vitco's own files in them).
    """
    if not path or "\x00" in path:
        raise UnsafePath(path, "empty or contains a NUL byte")
    if "\\" in path:
        raise UnsafePath(path, "use '/' separators, not '\\'")
    pure = PurePosixPath(path)
    if pure.is_absolute():
        raise UnsafePath(path, "absolute paths are not allowed")
    if any(part == ".." for part in pure.parts):
        raise UnsafePath(path, "'..' is not allowed")
    parts = [p for p in pure.parts if p != "."]
    if not parts:
        raise UnsafePath(path, "names the workspace root itself")
    if reserved and parts[0] in RESERVED:
        raise UnsafePath(path, f"{parts[0]}/ belongs to vitco")
    root = root.resolve()
    target = root.joinpath(*parts)
    # Walk every existing prefix: a symlink anywhere along the way must stay inside the root.
    current = root
    for part in parts:
        current = current / part
        if current.is_symlink():
            resolved = Path(os.path.realpath(current))
            if not resolved.is_relative_to(root):
                raise UnsafePath(
                    path, f"{current.relative_to(root)} is a symlink out of the workspace"
                )
    resolved = Path(os.path.realpath(target))
    if not resolved.is_relative_to(root):
        raise UnsafePath(path, "resolves outside the workspace")
    # An in-workspace symlink (one a sandboxed test can create) must not lead into .git either.
    inside = resolved.relative_to(root).parts
    if not inside:
        raise UnsafePath(path, "resolves to the workspace root itself")
    if reserved and inside[0] in RESERVED:
        raise UnsafePath(path, f"resolves into {inside[0]}/, which belongs to vitco")
    return target


def read_inside(root: Path, path: str, *, limit: int = 1_000_000) -> bytes | None:
    """The bytes of a regular file inside ``root``, or None if it is missing or not a plain file.

    Never follows a symlink (the workspace is written by sandboxed code, which could point a
    file vitco reads at a secret of the host). Reads at most ``limit`` bytes.
    """
    try:
        target = safe_path(root, path, reserved=False)
    except UnsafePath:  # a symlink out of the workspace: not a plain file inside it
        return None
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # the file itself is a symlink
            return None
        raise
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None
        return fh.read(limit)
