"""Path safety: every path a changeset names must stay inside the workspace.

Rejects absolute paths, ``..`` components, NUL bytes, a ``.git`` component at any depth, paths
into vitco's own folders (``.venv``, ``.vitco``) and any path that resolves through a symlink
to somewhere outside. The workspace is written by sandboxed code, so the host reads and writes
files in it only through directory descriptors opened without following links
(``read_inside``, ``write_inside``, ``delete_inside``): a link swapped in after the check
cannot redirect the write.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path, PurePosixPath

from vitco.sandbox.fs import walk_dirs
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
    # Some filesystems fold case and drop trailing dots and spaces: '.GIT', '.git.' are '.git'.
    if any(p.rstrip(". ").lower() == ".git" for p in parts):
        raise UnsafePath(path, "a .git component belongs to git, at any depth")
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
    if ".git" in inside or (reserved and inside[0] in RESERVED):
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


_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_parent(root: Path, parts: list[str], *, create: bool) -> int | None:
    """A descriptor of the directory holding ``parts[-1]``, walked from ``root`` without
    following a link (missing directories are made with ``create``); None if it is missing."""
    top = os.open(root, _DIR)
    try:
        return walk_dirs(top, parts[:-1], flags=_DIR, create=create)
    except NotADirectoryError as exc:
        raise UnsafePath(
            "/".join(parts), f"{exc.filename!r} is a link or not a directory"
        ) from None
    finally:
        os.close(top)


def write_inside(root: Path, path: str, data: bytes, *, reserved: bool = True) -> Path:
    """Write ``data`` to ``path`` under ``root`` (checked by ``safe_path``), never through a
    link: a link in its place is replaced by the file. Returns the file's path."""
    target = safe_path(root, path, reserved=reserved)
    parts = list(target.relative_to(root.resolve()).parts)
    dir_fd = _open_parent(root.resolve(), parts, create=True)
    assert dir_fd is not None
    name = parts[-1]
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        try:
            fd = os.open(name, flags, 0o644, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.EISDIR, errno.ENXIO, errno.EACCES):
                raise
            _remove(dir_fd, name)  # a link, a directory or a FIFO where the file goes
            fd = os.open(name, flags | os.O_EXCL, 0o644, dir_fd=dir_fd)
        with os.fdopen(fd, "wb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise UnsafePath(path, "is not a regular file")
            fh.write(data)
    finally:
        os.close(dir_fd)
    return target


def delete_inside(root: Path, path: str) -> None:
    """Remove ``path`` under ``root`` (a file, link or directory), never following a link."""
    safe_path(root, path)
    parts = [p for p in PurePosixPath(path).parts if p != "."]
    dir_fd = _open_parent(root.resolve(), parts, create=False)
    if dir_fd is None:
        return
    try:
        _remove(dir_fd, parts[-1])
    finally:
        os.close(dir_fd)


def _remove(dir_fd: int, name: str) -> None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)
