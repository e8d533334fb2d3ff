"""Artifacts as files under a directory of vitco's (default: ``<data dir>/artifacts``).

Keys are checked (``check_key``) and then walked segment by segment with directory file
descriptors, each opened with ``O_NOFOLLOW | O_DIRECTORY``: a symlink planted anywhere under
the root (by whatever could write there) is refused, never followed, so no key reads or writes
outside the root. Writes go to a temporary file in the target directory, fsync'd, then
``os.replace``: atomic. Hand-written because no maintained library offers a confined,
no-follow file store (``pathlib`` follows links; ``fsspec``'s local filesystem too).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from vitco.integrations.storage.exceptions import (
    ArtifactNotFound,
    BadArtifactKey,
    StorageUnavailable,
)
from vitco.integrations.storage.protocol import Listing, StoredObject, check_key, check_prefix

BACKEND = "local"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class LocalArtifactStore:
    """Artifacts under ``root`` (made 0700 when missing)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @contextlib.contextmanager
    def _dir(self, parts: list[str], *, create: bool) -> Iterator[int]:
        """A descriptor of the directory ``parts`` under the root, walked without links."""
        if create:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(self.root, _DIR_FLAGS)
        except FileNotFoundError:
            raise
        except OSError as exc:  # the root itself is a link, or unreadable
            raise StorageUnavailable(BACKEND, f"{self.root}: {exc.strerror}") from exc
        try:
            for part in parts:
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o700, dir_fd=fd)
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise BadArtifactKey(
                            "/".join(parts), f"{part!r} is not a directory (a link or a file)"
                        ) from exc
                    raise
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        *dirs, name = check_key(key)
        with self._dir(dirs, create=True) as fd:
            tmp = f".{name}.{secrets.token_hex(6)}.tmp"
            out = os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=fd
            )
            try:
                with os.fdopen(out, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                self._refuse_dir(fd, name, key)
                os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=fd)
                raise

    @staticmethod
    def _refuse_dir(fd: int, name: str, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                raise BadArtifactKey(key, "a folder of other artifacts has this name")

    def get(self, key: str) -> bytes:
        *dirs, name = check_key(key)
        try:
            with self._dir(dirs, create=False) as fd:
                src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                with os.fdopen(src, "rb") as f:
                    if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                        raise ArtifactNotFound(key)
                    return f.read()
        except FileNotFoundError as exc:
            raise ArtifactNotFound(key) from exc
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENOTDIR):
                raise ArtifactNotFound(key) from exc
            raise StorageUnavailable(BACKEND, f"{key}: {exc.strerror}") from exc

    def list(self, prefix: str = "") -> Listing:
        parts = check_prefix(prefix)
        found: Listing = []
        try:
            with self._dir(parts, create=False) as fd:
                self._walk(fd, "/".join(parts), found)
        except FileNotFoundError:
            return []
        except BadArtifactKey:
            return []  # the prefix names a file or a link: nothing is under it
        return sorted(found, key=lambda o: o.key)

    def _walk(self, fd: int, base: str, found: Listing) -> None:
        for entry in os.scandir(fd):
            if entry.name.startswith("."):
                continue  # temporary files of writes in flight
            key = f"{base}/{entry.name}" if base else entry.name
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode):
                modified = datetime.fromtimestamp(info.st_mtime, UTC)
                found.append(StoredObject(key, info.st_size, modified))
            elif stat.S_ISDIR(info.st_mode):
                child = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                try:
                    self._walk(child, key, found)
                finally:
                    os.close(child)

    def delete(self, key: str) -> None:
        *dirs, name = check_key(key)
        try:
            with self._dir(dirs, create=False) as fd:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    raise ArtifactNotFound(key)
                os.unlink(name, dir_fd=fd)
        except FileNotFoundError:
            return

    def url(self, key: str, expires_s: int = 3600) -> str:
        check_key(key)
        return (self.root.resolve() / key).as_uri()
