"""A commit as a ``.tar.gz``, built by the host from git's objects.

The working tree is written by sandboxed code and is never read: the archive holds the regular
files of the commit's tree (``Repo.tree_entries``) with their contents from the object store
(``Repo.read_blobs``). Symbolic links and submodules are left out, so an archive can neither
lead the host to a file outside the repository while it is built nor make the client's ``tar``
write through a link while it is unpacked. A tree path that is absolute or climbs (``..``) is
left out too. The archive is deterministic: the same commit gives the same bytes (every time
is the commit's, owners are 0), so its ETag is the commit's id.
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import IO

from vitco.integrations.git.repo import Repo, TreeEntry

BATCH_BYTES = 32 * 1024 * 1024  # blobs read from git at a time: memory stays bounded


def _safe(path: str) -> bool:
    pure = PurePosixPath(path)
    return bool(path) and not pure.is_absolute() and ".." not in pure.parts


def _batches(entries: list[TreeEntry]) -> Iterator[list[TreeEntry]]:
    batch: list[TreeEntry] = []
    size = 0
    for entry in entries:
        if batch and size + entry.size > BATCH_BYTES:
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry.size
    if batch:
        yield batch


def write_archive(repo: Repo, ref: str, out: IO[bytes], *, prefix: str) -> str:
    """Write ``ref``'s tree as a gzipped tar to ``out``, every file under ``prefix/``;
    returns the commit's id."""
    commit = repo.head(ref)
    when = int(repo.git("show", "-s", "--format=%ct", commit))
    entries = [e for e in repo.tree_entries(commit) if _safe(e.path)]
    with (
        gzip.GzipFile(fileobj=out, mode="wb", mtime=when) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for batch in _batches(entries):
            blobs = repo.read_blobs(e.sha for e in batch)
            for entry in batch:
                data = blobs.get(entry.sha)
                if data is None:
                    continue
                info = tarfile.TarInfo(f"{prefix}/{entry.path}")
                info.size, info.mtime = len(data), when
                info.mode = 0o755 if entry.executable else 0o644
                tar.addfile(info, io.BytesIO(data))
    return commit


def archive_prefix(name: str, fallback: str) -> str:
    """The folder an archive's files are under: ``name`` (a project's) made safe, or
    ``fallback`` when nothing of it is."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:80] or fallback
