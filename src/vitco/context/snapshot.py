"""What the files of a repository or a task are, read from git's objects, never a working tree.

A ``Snapshot`` is one commit's regular files (``git ls-tree``/``git cat-file``), optionally with
a task's own changes laid over them. The working trees are written by sandboxed code (tests
leave files behind, may plant links or rewrite sources), so nothing a role is shown is read
from them: what a role sees is the commit the task started from plus what the developer and
QA wrote, in the order the test step applies them. A path a model names is only ever looked up
in this listing, never opened on the host.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Protocol

from pydantic import TypeAdapter, ValidationError

from vitco.agents.outputs import Changeset, FileChange
from vitco.integrations.git.repo import Repo, TreeEntry, is_full_sha

MAX_BLOB_BYTES = 1_000_000
"""Larger files are listed with their size but never read (source code is smaller)."""

_FILES = TypeAdapter(list[FileChange])


class ArtifactRow(Protocol):
    """One stored artifact, as the store returns it."""

    @property
    def kind(self) -> str: ...
    @property
    def task(self) -> str | None: ...
    @property
    def content(self) -> dict[str, Any]: ...


def normal(path: str) -> str:
    """``path`` as git lists it ('./a//b' is 'a/b')."""
    return PurePosixPath(path).as_posix().lstrip("/")


@dataclass
class Snapshot:
    """The text files of one commit, with a task's changes laid over them."""

    repo: Repo
    ref: str
    entries: dict[str, TreeEntry]
    overlay: dict[str, str | None] = field(default_factory=dict)
    _blobs: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def at(cls, repo: Repo, ref: str) -> Snapshot:
        """The files of ``ref`` in ``repo``."""
        # a full commit id is its own name: no git process to say so (two per task view)
        sha = ref if is_full_sha(ref) else repo.head(ref)
        return cls(repo, sha, {e.path: e for e in repo.tree_entries(sha)})

    def changed(self, changes: Iterable[FileChange]) -> Snapshot:
        """This snapshot with ``changes`` applied on top (writes and deletes, in order)."""
        overlay = dict(self.overlay)
        for change in changes:
            overlay[normal(change.path)] = change.content if change.action == "write" else None
        return Snapshot(self.repo, self.ref, self.entries, overlay, self._blobs)

    def paths(self) -> list[str]:
        """Every file, sorted."""
        present = set(self.entries) | {p for p, c in self.overlay.items() if c is not None}
        return sorted(p for p in present if self.overlay.get(p, "") is not None)

    def size(self, path: str) -> int:
        path = normal(path)
        if path in self.overlay:
            content = self.overlay[path]
            return -1 if content is None else len(content.encode())
        entry = self.entries.get(path)
        return -1 if entry is None else entry.size

    def exists(self, path: str) -> bool:
        return self.size(path) >= 0

    def text(self, path: str) -> str | None:
        """The file's text; None when it is missing, too big, or not UTF-8 text."""
        return self.texts([path]).get(normal(path))

    def texts(self, paths: Iterable[str]) -> dict[str, str]:
        """The texts of those ``paths`` that are text files (read in one git call)."""
        wanted = [normal(p) for p in paths]
        unread = [
            self.entries[p].sha
            for p in wanted
            if p not in self.overlay
            and p in self.entries
            and self.entries[p].size <= MAX_BLOB_BYTES
            and self.entries[p].sha not in self._blobs
        ]
        self._blobs.update(self.repo.read_blobs(unread))
        found: dict[str, str] = {}
        for path in wanted:
            if path in self.overlay:
                content = self.overlay[path]
                if content is not None:
                    found[path] = content
                continue
            entry = self.entries.get(path)
            data = self._blobs.get(entry.sha) if entry is not None else None
            if data is None or b"\x00" in data[:8000]:
                continue
            try:
                found[path] = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
        return found


def task_changes(
    artifacts: Iterable[ArtifactRow], task: str
) -> tuple[list[list[FileChange]], list[FileChange]]:
    """A task's stored work as the test step applies it: every changeset since its last merge
    conflict, in order, and QA's test files (a later QA artifact, such as the tests a ruling
    rewrote, supersedes the earlier ones path by path)."""
    changesets: list[list[FileChange]] = []
    tests: dict[str, FileChange] = {}
    for a in artifacts:
        if a.task != task:
            continue
        if a.kind == "merge_conflict":
            changesets.clear()
        elif a.kind == "changeset":
            changesets.append(Changeset.model_validate(a.content).files)
        elif a.kind == "qa":
            try:
                files = _FILES.validate_python(a.content.get("files", []))
            except ValidationError:
                files = []
            tests.update((normal(f.path), f) for f in files)
    return changesets, list(tests.values())


def task_snapshot(base: Snapshot, artifacts: Iterable[ArtifactRow], task: str) -> Snapshot:
    """``base`` with the task's stored work applied (see ``task_changes``)."""
    changesets, tests = task_changes(artifacts, task)
    view = base
    for files in [*changesets, tests]:
        view = view.changed(files)
    return view


def touched(artifacts: Iterable[ArtifactRow], task: str) -> list[str]:
    """The paths the task's changesets wrote or deleted (QA's tests not included)."""
    changesets, _tests = task_changes(artifacts, task)
    return sorted({normal(f.path) for files in changesets for f in files})
