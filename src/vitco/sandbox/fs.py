"""The host's side of trees that sandboxed code writes: open, walk, measure, read, remove.

A workspace is written by sandboxed code, so every path inside it is hostile: any entry may be
swapped for a symlink to a host file at any moment. The host still has to mount the workspace,
hand its files to the project's uid, find the ``.git`` entries it protects, measure the disk
use and read the files a command leaves behind. Each of those goes through file descriptors: a
directory is opened once with ``O_NOFOLLOW`` (component by component from ``/``), and from then
on the host works on the inode it opened (``--bind-fd`` for bwrap, ``*at`` calls for the rest),
so a link planted later cannot redirect it. Python's ``os.fwalk``/``os.scandir`` on a directory
descriptor and ``shutil.rmtree`` (which is fd-based and never follows links on Linux) do the
walking; only the component-wise open and the measuring are written here, because no library
does them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from vitco.sandbox.exceptions import BadWorkspace

_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_COLLECT_BYTES = 5_000_000
MAX_COLLECT_FILES = 200
_READ_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

IdCheck = Callable[[os.stat_result], bool]
"""``True`` for a file or directory that sandboxed code could have written (its owner or its
writable group is one of the sandbox's ids)."""


def walk_dirs(
    start_fd: int, parts: Sequence[str], *, flags: int = _DIR_FLAGS, create: bool = False
) -> int | None:
    """Descend from the directory ``start_fd`` through ``parts``, one component at a time and
    never through a link; returns a new descriptor (opened with ``flags``) of the last one.

    A missing component is made (0755) with ``create``, else the answer is ``None``. A
    component that is a link or not a directory raises ``NotADirectoryError`` naming it.
    ``start_fd`` stays open.
    """
    fd = os.dup(start_fd)
    try:
        for part in parts:
            try:
                child = os.open(part, flags, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    os.close(fd)
                    return None
                os.mkdir(part, 0o755, dir_fd=fd)
                child = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise NotADirectoryError(
                        errno.ENOTDIR, "a link or not a directory", part
                    ) from None
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_dir(path: Path) -> int:
    """An ``O_PATH`` descriptor of the directory ``path``, opened one component at a time and
    never through a symlink; ``BadWorkspace`` if a component is a link or not a directory."""
    if not path.is_absolute():
        raise BadWorkspace(path, "is not an absolute path")
    root = os.open("/", _DIR_FLAGS)
    try:
        fd = walk_dirs(root, path.parts[1:])
    except NotADirectoryError as exc:
        raise BadWorkspace(path, f"{exc.filename!r} is a symlink or not a directory") from None
    except OSError as exc:
        raise BadWorkspace(path, f"cannot open it: {exc.strerror}") from None
    finally:
        os.close(root)
    if fd is None:
        raise BadWorkspace(path, "not a directory")
    return fd


def open_child_dir(parent_fd: int, name: str) -> int | None:
    """``name`` inside the directory ``parent_fd`` as an ``O_PATH`` descriptor, or ``None`` if
    it is missing, a symlink or not a directory."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except OSError:
        return None


def check_workspace(
    workspace: Path, protected: Iterable[Path] = (), sandbox_wrote: IdCheck | None = None
) -> Path:
    """The absolute, symlink-free workspace path; refuses one that is missing, the root, the
    host's home, that contains a ``protected`` path (vitco's data dir), or that lies inside a
    directory sandboxed code could write (a workspace inside another one: its code could swap
    this workspace for a link to anywhere between two commands)."""
    ws = Path(os.path.realpath(workspace))
    if not ws.is_dir():
        raise BadWorkspace(ws, "not a directory")
    if ws == Path("/") or ws == Path(os.path.realpath(Path.home())):
        raise BadWorkspace(ws, "is / or the home directory; give each project its own dir")
    for p in protected:
        real = Path(os.path.realpath(p))
        if real == ws or ws in real.parents:
            raise BadWorkspace(ws, f"contains {real}, which sandboxed code must not see")
    if sandbox_wrote is not None:
        for parent in ws.parents:
            if sandbox_wrote(os.lstat(parent)):
                raise BadWorkspace(
                    ws,
                    f"lies inside {parent}, which sandboxed code can write; "
                    "keep workspaces in directories vitco owns",
                )
    return ws


def read_file(dir_fd: int, name: str, limit: int = MAX_COLLECT_BYTES) -> bytes | None:
    """The bytes of the regular file ``name`` in the directory ``dir_fd``, at most ``limit``;
    ``None`` if it is missing, a link or not a regular file (a FIFO would block the host)."""
    try:
        fd = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd
        )
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None
        return fh.read(limit)


def _entries(dir_fd: int) -> Iterator[tuple[int, os.DirEntry[str]]]:
    """Every entry below ``dir_fd`` (depth first), never following a link; directories that
    vanish or cannot be opened meanwhile are skipped."""
    stack = [os.dup(dir_fd)]
    while stack:
        fd = stack.pop()
        try:
            with os.scandir(fd) as it:
                for entry in it:
                    yield fd, entry
                    if entry.is_dir(follow_symlinks=False):
                        with contextlib.suppress(OSError):
                            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
                            stack.append(os.open(entry.name, flags, dir_fd=fd))
        except OSError:
            pass
        finally:
            os.close(fd)


def disk_usage(dir_fds: Iterable[int]) -> int:
    """Bytes allocated to everything below the directories ``dir_fds`` (each inode once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for top in dir_fds:
        with contextlib.suppress(OSError):
            readable = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=top)
            try:
                for _, entry in _entries(readable):
                    with contextlib.suppress(OSError):
                        st = entry.stat(follow_symlinks=False)
                        if (st.st_dev, st.st_ino) not in seen:
                            seen.add((st.st_dev, st.st_ino))
                            total += st.st_blocks * 512
            finally:
                os.close(readable)
    return total


def default_state_root() -> Path:
    """Where a sandbox built without a ``state_root`` keeps its scratch dirs and app sockets:
    a new private temporary directory."""
    return Path(tempfile.mkdtemp(prefix="vitco-sandbox-"))


class DiskWatch:
    """Polls disk use while a command runs, often when measuring is cheap and rarely when not
    (every 20x the CPU time the last measurement took, between 0.2 s and 5 s). CPU time, not
    the time it took: on a loaded machine a cheap measurement waited its turn for a core, the
    wait stretched the next one to seconds away, and a command wrote 200 MiB past a 16 MiB
    cap between two looks."""

    def __init__(self, dir_fds: Iterable[int], limit_bytes: int) -> None:
        self.dir_fds = list(dir_fds)
        self.limit_bytes = limit_bytes
        self.used = 0
        self._next = 0.0

    def exceeded(self, *, now: float | None = None, force: bool = False) -> bool:
        """Whether the trees hold more than the limit (measured only when due, or ``force``)."""
        now = time.monotonic() if now is None else now
        if not force and now < self._next:
            return False
        began = time.thread_time()
        self.used = disk_usage(self.dir_fds)
        spent = time.thread_time() - began
        self._next = time.monotonic() + min(5.0, max(0.2, 20 * spent))
        return self.used > self.limit_bytes


class Scratch:
    """A fresh, private directory for one sandboxed command: its ``/tmp`` and HOME.

    Created by vitco inside ``root`` (a directory vitco owns), given to the sandbox ``ids``,
    counted against the disk limit, read back without following links, and removed afterwards:
    nothing a command writes there outlives it, and it never takes the host's memory (a tmpfs
    would).
    """

    def __init__(self, root: Path, ids: tuple[int, int] | None) -> None:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix="t-", dir=root))
        # 0755: bwrap (root, without CAP_DAC_OVERRIDE) must traverse it to mount a workspace
        # below /tmp; the 0700 root above keeps everyone else out on the host.
        os.chmod(self.path, 0o755)
        (self.path / "home").mkdir(mode=0o700)
        if ids is not None:
            for p in (self.path, self.path / "home"):
                os.chown(p, *ids)
        self.fd = os.open(self.path, _DIR_FLAGS)
        self._removed = False

    def read(self, name: str, limit: int = MAX_COLLECT_BYTES) -> bytes | None:
        return read_file(self.fd, name, limit)

    def collect(self, names: Iterable[str]) -> dict[str, bytes]:
        """The regular files ``names`` (relative to the scratch dir) that exist; a name ending
        in ``/`` stands for the regular files directly inside that directory (at most
        ``MAX_COLLECT_FILES``), keyed ``dir/file``. Nothing is read through a link."""
        found: dict[str, bytes] = {}
        for name in names:
            if not name.endswith("/"):
                if (data := self.read(name)) is not None:
                    found[name] = data
                continue
            folder = walk_dirs(self.fd, [p for p in name.split("/") if p], flags=_READ_DIR)
            if folder is None:
                continue
            try:
                with os.scandir(folder) as it:
                    entries = sorted(e.name for e in it if e.is_file(follow_symlinks=False))
                for entry in entries[:MAX_COLLECT_FILES]:
                    if (data := read_file(folder, entry)) is not None:
                        found[name + entry] = data
            finally:
                os.close(folder)
        return found

    def remove(self) -> None:
        """Delete the directory and all it holds; idempotent."""
        if self._removed:
            return
        self._removed = True
        os.close(self.fd)
        shutil.rmtree(self.path, ignore_errors=True)
