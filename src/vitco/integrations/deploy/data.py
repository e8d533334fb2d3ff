"""A deployed app's data directory: the live one, and scratch copies for smoke checks.

One per project, in a directory vitco owns (``<data dir>/sandbox/data/<project>/``, 0700,
never mounted itself)::

    live/             what the running app keeps; the sandbox mounts it at /data (DATA_DIR)
    smoke-XXXX/       a copy of live/ that one deploy's smoke checks run against
    smoke-XXXX.lock   held (flock) by that deploy; a copy whose lock nobody holds is stale

The live data is never touched by a smoke check: the checks write to the copy, which is
removed afterwards; a copy left by a deploy that crashed is swept by the next one.

Both trees are written by sandboxed code, so every entry in them is hostile (see
``docs/security.md``). The host copies through descriptors only: directories opened with
``O_NOFOLLOW`` one level at a time, files opened with ``O_NOFOLLOW | O_NONBLOCK`` and copied
only when they are regular files, a symlink recreated as the same link (never followed),
anything else (FIFOs, sockets, devices) left out; ``shutil.rmtree`` removes (fd-based, it never
follows a link on Linux). The copy is bounded in bytes and entries.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from vitco.integrations.deploy.exceptions import MAX_LEVELS, DataTooLarge
from vitco.sandbox.fs import walk_dirs

LIVE = "live"
SCRATCH_PREFIX = "smoke-"
_READ_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class AppData:
    """The data directories of one project's deployments under ``root`` (vitco's)."""

    def __init__(self, root: Path, *, max_bytes: int, max_entries: int = 100_000) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.max_entries = max_entries

    @property
    def live(self) -> Path:
        """The live data directory (made, empty, on first use)."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        live = self.root / LIVE
        with contextlib.suppress(FileExistsError):
            live.mkdir(mode=0o700)
        return live

    def sweep(self) -> list[Path]:
        """Remove the scratch copies no deploy is using (a crashed one's); returns them."""
        swept: list[Path] = []
        if not self.root.is_dir():
            return swept
        for entry in sorted(os.listdir(self.root)):
            if not entry.startswith(SCRATCH_PREFIX) or entry.endswith(".lock"):
                continue
            lock = self.root / f"{entry}.lock"
            try:
                fd = os.open(lock, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                fd = None  # the lock goes last: a copy without one is half removed
            try:
                if fd is not None:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # a deploy running now holds it
                shutil.rmtree(self.root / entry, ignore_errors=True)
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()
                swept.append(self.root / entry)
            finally:
                if fd is not None:
                    os.close(fd)
        return swept

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Path]:
        """A fresh copy of the live data for smoke checks, removed when the block ends (stale
        copies are swept first). Raises ``DataTooLarge`` past the byte or entry bound."""
        self.sweep()
        live = self.live
        fd, lock_path = tempfile.mkstemp(prefix=SCRATCH_PREFIX, suffix=".lock", dir=self.root)
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = Path(lock_path.removesuffix(".lock"))
        try:
            path.mkdir(mode=0o700)
            src = os.open(live, _READ_DIR)
            dst = os.open(path, _READ_DIR)
            try:
                _copy_tree(src, dst, _Budget(self.max_bytes, self.max_entries), 0)
            finally:
                os.close(src)
                os.close(dst)
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock_path)
            os.close(fd)


class _Budget:
    def __init__(self, max_bytes: int, max_entries: int) -> None:
        self.bytes_left = max_bytes
        self.entries_left = max_entries
        self.max_bytes = max_bytes
        self.max_entries = max_entries

    def entry(self) -> None:
        self.entries_left -= 1
        if self.entries_left < 0:
            raise DataTooLarge(self.max_bytes, self.max_entries, "entries")

    def spend(self, size: int) -> None:
        self.bytes_left -= size
        if self.bytes_left < 0:
            raise DataTooLarge(self.max_bytes, self.max_entries, "bytes")


def _copy_tree(src: int, dst: int, budget: _Budget, depth: int) -> None:
    """Copy the tree below the directory ``src`` into ``dst`` (both descriptors), never
    following a link (see the module docstring)."""
    if depth > MAX_LEVELS:
        raise DataTooLarge(budget.max_bytes, budget.max_entries, "levels")
    with os.scandir(src) as it:
        names = [entry.name for entry in it]
    for name in names:
        budget.entry()
        try:
            st = os.stat(name, dir_fd=src, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode):
            with contextlib.suppress(OSError):
                os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
        elif stat.S_ISDIR(st.st_mode):
            try:
                inner = walk_dirs(src, [name], flags=_READ_DIR)
            except NotADirectoryError:
                continue  # swapped for a link since it was listed
            if inner is None:
                continue
            try:
                os.mkdir(name, stat.S_IMODE(st.st_mode) | 0o700, dir_fd=dst)
                made = os.open(name, _READ_DIR, dir_fd=dst)
                try:
                    _copy_tree(inner, made, budget, depth + 1)
                finally:
                    os.close(made)
            finally:
                os.close(inner)
        elif stat.S_ISREG(st.st_mode):
            _copy_file(src, dst, name, budget)


def _copy_file(src: int, dst: int, name: str, budget: _Budget) -> None:
    try:
        rfd = os.open(name, _READ_FILE, dir_fd=src)
    except OSError:
        return  # swapped for a link, or gone, since it was listed
    try:
        st = os.fstat(rfd)
        if not stat.S_ISREG(st.st_mode):
            return
        budget.spend(st.st_size)
        wfd = os.open(name, _NEW_FILE, stat.S_IMODE(st.st_mode) | 0o600, dir_fd=dst)
        try:
            left = st.st_size
            while left > 0:
                sent = os.sendfile(wfd, rfd, None, min(left, 1 << 24))
                if sent == 0:
                    break  # it shrank meanwhile
                left -= sent
        finally:
            os.close(wfd)
    finally:
        os.close(rfd)
