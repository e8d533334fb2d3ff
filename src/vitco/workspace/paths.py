"""Path safety: every path a changeset names must stay inside the workspace.

Rejects absolute paths, ``..`` components, NUL bytes, paths into vitco's own folders (``.git``,
``.venv``, ``.vitco``) and any path that resolves through a symlink to somewhere outside.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from vitco.workspace.exceptions import UnsafePath

RESERVED = frozenset({".git", ".venv", ".vitco"})


def safe_path(root: Path, path: str) -> Path:
    """The absolute path of ``path`` under ``root``; raises ``UnsafePath`` if it would escape."""
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
    if parts[0] in RESERVED:
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
    if inside[0] in RESERVED:
        raise UnsafePath(path, f"resolves into {inside[0]}/, which belongs to vitco")
    return target
