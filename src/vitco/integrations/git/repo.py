"""The project's git repository: changesets in, one commit per task, main kept linear.

Each task works in its own git worktree on branch ``task/<id>`` (so parallel tasks never touch
each other's files); a passing task is rebased onto ``main`` and fast-forwarded into it, one at a
time. Commits carry a ``Vitco-Key`` trailer, so a step resumed after a crash finds the commit it
already made instead of making it twice. Git is driven through its CLI: it is the tool itself,
and no Python binding covers worktrees and rebases as completely.

The working trees are written by sandboxed code, so git runs with every hook and external
helper a repository's config could name switched off, pathspecs taken literally (a path named
``*`` or ``:(top)`` is a file name, not a pattern) and paths fed on stdin (a commit of many files
never meets the argument limit). Worktrees live beside the repository, in ``<repo>.trees/``,
never inside a tree sandboxed code can write: a worktree inside the workspace could be swapped
for a link by the workspace's code before vitco mounts it. Only vitco writes ``Vitco-*``
trailers: any such line in a model's message is dropped.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple, Protocol

from vitco.integrations.git.exceptions import GitError, MergeConflict
from vitco.workspace.exceptions import UnsafePath
from vitco.workspace.paths import delete_inside, read_inside, safe_path, write_inside

GITIGNORE = ".venv/\n.venv-*/\n.vitco/\n__pycache__/\n*.pyc\n.pytest_cache/\n"
AUTHOR = ["-c", "user.name=vitco", "-c", "user.email=agents@vitco.local"]
# Nothing a repository's files or config could name runs as root: no hooks, no fsmonitor, no
# submodule recursion, no external diff or merge helpers; pathspecs are literal file names.
GUARDS = [
    "--literal-pathspecs",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "submodule.recurse=false",
    "-c",
    "diff.external=",
    "-c",
    "core.pager=cat",
]
# git's automatic maintenance after a commit, merge or rebase (one process each, seven in a run
# of three tasks, most of them finding nothing to do) is asked for once, as a run ends
DEFERRED = ["-c", "maintenance.auto=false"]
_TRAILER = re.compile(r"^\s*vitco-[a-z-]+\s*:", re.IGNORECASE)
_FULL_SHA = re.compile(r"[0-9a-f]{40}")
LISTINGS = 16
"""How many trees' listings a process keeps (``Repo.tree_entries``)."""
_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def is_full_sha(ref: str) -> bool:
    """Whether ``ref`` is a full object id (which names itself: no git process to resolve it)."""
    return _FULL_SHA.fullmatch(ref) is not None


class TreeEntry(NamedTuple):
    """One regular file of a commit's tree."""

    path: str
    sha: str
    size: int
    executable: bool = False


class ChangedFile(Protocol):
    """One file write or delete (the shape of ``agents.outputs.ChangedFile``)."""

    @property
    def path(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def content(self) -> str | None: ...


def _lock_for(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


class Repo:
    """A git repository (or one of its worktrees) on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        """Whether the repository was made yet (a project's is made when a run first needs
        it: ``Runtime.repo``)."""
        return (self.path / ".git").exists()

    @property
    def trees(self) -> Path:
        """Where this repository's worktrees live: beside it, never inside it."""
        return self.path.parent / f"{self.path.name}.trees"

    def task_tree_path(self, name: str) -> Path:
        return self.trees / "tasks" / name

    def run_tree_path(self, run_id: str) -> Path:
        return self.trees / "runs" / run_id

    # plumbing -------------------------------------------------------------------------------

    def git(
        self, *args: str, check: bool = True, stdin: str | None = None, strip: bool = True
    ) -> str:
        """git's output, stripped unless ``strip`` is False (a diff keeps its layout; bytes
        that are not UTF-8, which generated files may hold, are replaced)."""
        proc = subprocess.run(
            ["git", *GUARDS, *AUTHOR, *DEFERRED, *args],
            cwd=self.path,
            input=stdin,
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise GitError(list(args), proc.stderr or proc.stdout, proc.returncode)
        return proc.stdout.strip() if strip else proc.stdout

    def git_bytes(self, *args: str, stdin: bytes | None = None) -> bytes:
        """git's output as the bytes it wrote (object contents, whose sizes git counts in
        bytes); ``GitError`` when it fails."""
        proc = self._run(args, stdin)
        if proc.returncode != 0:
            raise GitError(list(args), proc.stderr.decode(errors="replace"), proc.returncode)
        return proc.stdout

    def succeeds(self, *args: str) -> bool:
        """Whether git exits 0: for a change git may refuse and the caller has another way
        for (a fast-forward, a ref created only where there is none)."""
        return self._run(args, None).returncode == 0

    def _run(self, args: Iterable[str], stdin: bytes | None) -> subprocess.CompletedProcess[bytes]:
        """git with the guards, its output in bytes."""
        return subprocess.run(
            ["git", *GUARDS, *AUTHOR, *DEFERRED, *args],
            cwd=self.path,
            input=stdin,
            capture_output=True,
            check=False,
            timeout=120,
        )

    @classmethod
    def init(cls, path: Path) -> Repo:
        """Create a repository with a first commit (a .gitignore for vitco's folders).

        A new one appears at ``path`` whole or not at all: it is made in a folder beside it and
        renamed into place, so a process killed between ``git init`` and the first commit
        leaves no repository without a commit, which the next run (seeing a repository) would
        not make again and then fail at ``git rev-parse HEAD`` (the fleet test's takeover
        found one). What a killed process leaves is a ``.<name>.init-*`` folder beside it. A
        repository without a commit that an older vitco left, or one in a folder that already
        holds files, is completed in place."""
        if not (path / ".git").exists() and not (path.is_dir() and any(path.iterdir())):
            path.parent.mkdir(parents=True, exist_ok=True)
            scratch = path.parent / f".{path.name}.init-{uuid.uuid4().hex[:8]}"
            try:
                cls._first_commit(scratch)
                if path.is_dir():
                    path.rmdir()  # empty: the rename puts the repository in its place
                os.rename(scratch, path)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)  # gone once renamed
            return cls(path)
        return cls._first_commit(path)

    @classmethod
    def _first_commit(cls, path: Path) -> Repo:
        """``git init`` at ``path`` and the first commit, whichever of them is not done yet."""
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        fresh = not (path / ".git").exists()
        if fresh:
            repo.git("init", "-q", "-b", "main")
        # a repository just made has no commit: no git process to say so
        if fresh or not repo.git("rev-parse", "--verify", "-q", "HEAD", check=False):
            (path / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
            repo.git("add", ".gitignore")
            repo.git("commit", "-q", "-m", "Start project")
        return repo

    @classmethod
    def clone(cls, source: Path, path: Path) -> Repo:
        """A private copy of an existing repository to work on (the source is never touched).

        vitco's own folders are excluded through ``.git/info/exclude``, not a commit, so the
        client's history stays theirs; main is the branch that was checked out in the source.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            ["git", "clone", "-q", "--no-hardlinks", str(source), str(path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if proc.returncode != 0:
            raise GitError(["clone", str(source)], proc.stderr, proc.returncode)
        repo = cls(path)
        if repo.branch() != "main":
            repo.git("branch", "-m", "main")
        exclude = path / ".git" / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with exclude.open("a", encoding="utf-8") as fh:
            fh.write("\n" + GITIGNORE)
        return repo

    def head(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", ref)

    # files ------------------------------------------------------------------------------------

    def apply(self, files: Iterable[ChangedFile]) -> list[str]:
        """Write and delete files; every path is checked before anything is written, and
        nothing is written or deleted through a link (``paths.write_inside``)."""
        changes = list(files)
        for c in changes:
            safe_path(self.path, c.path)
        for change in changes:
            if change.action == "delete":
                delete_inside(self.path, change.path)
            else:
                write_inside(self.path, change.path, (change.content or "").encode("utf-8"))
        return [c.path for c in changes]

    def clean(self, keep: str | None = ".venv") -> None:
        """Back to the checked-out commit: tracked files restored, everything else (what tests
        left, nested repositories included) removed, except ``keep``."""
        self.git("reset", "-q", "--hard")
        self.git("clean", "-q", "-ffdx", *(["-e", f"/{keep}"] if keep else []))

    def files(self) -> list[str]:
        """Tracked and untracked, not ignored, files of the working tree."""
        out = self.git("ls-files", "--cached", "--others", "--exclude-standard")
        return sorted(p for p in out.splitlines() if p and os.path.lexists(self.path / p))

    def read_files(self, limit_bytes: int = 200_000) -> dict[str, str]:
        """The text files of the working tree, up to ``limit_bytes`` in all (smallest first)."""
        contents: dict[str, str] = {}
        total = 0
        sizes = {p: (self.path / p).lstat().st_size for p in self.files()}
        for rel in sorted(sizes, key=lambda p: sizes[p]):
            try:
                data = read_inside(self.path, rel, limit=limit_bytes)
                text = data.decode("utf-8") if data is not None else None
            except (UnicodeDecodeError, OSError, UnsafePath):
                continue
            if text is None:  # a symlink or not a regular file: never followed
                continue
            if total + len(text) > limit_bytes:
                break
            contents[rel] = text
            total += len(text)
        return dict(sorted(contents.items()))

    def tree_entries(self, ref: str = "HEAD") -> list[TreeEntry]:
        """The regular files of ``ref``'s tree from git's objects (never the working tree, which
        sandboxed code writes): links and submodules are left out. A full object id names one
        tree forever, so its listing is kept (the last ``LISTINGS`` of this process): the
        views of a run's roles and tasks list the same commit again and again."""
        if is_full_sha(ref):
            return list(_listing(self.path, ref))
        return list(_list_tree(self, ref))

    def read_blobs(self, shas: Iterable[str]) -> dict[str, bytes]:
        """The contents of blobs by sha, in one ``git cat-file --batch``."""
        wanted = list(dict.fromkeys(shas))
        if not wanted:
            return {}
        data = self.git_bytes("cat-file", "--batch", stdin=("\n".join(wanted) + "\n").encode())
        blobs: dict[str, bytes] = {}
        at = 0
        for sha in wanted:
            end = data.index(b"\n", at)
            header = data[at:end].split()
            at = end + 1
            if len(header) != 3:  # "<sha> missing"
                continue
            size = int(header[2])
            blobs[sha] = data[at : at + size]
            at += size + 1
        return blobs

    # commits ----------------------------------------------------------------------------------

    def find_commit(self, key: str, ref: str = "HEAD") -> str | None:
        """The commit on ``ref`` whose message carries ``Vitco-Key: key``, if any."""
        literal = re.sub(r"([.*\[\]^$\\])", r"\\\1", key)  # git's basic regex, escaped
        out = self.git("log", ref, "--format=%H", f"--grep=^Vitco-Key: {literal}$", check=False)
        return out.splitlines()[0] if out else None

    def commit(self, message: str, key: str, paths: Iterable[str] | None = None) -> str:
        """Commit ``paths`` (default: the whole tree) once per ``key``; a repeat returns the sha.

        See ``record``, which this calls unless ``key``'s commit is there already."""
        existing = self.find_commit(key)
        if existing:
            return existing
        self.record(message, key, paths)
        return self.head()

    def record(self, message: str, key: str, paths: Iterable[str] | None = None) -> None:
        """Commit ``paths`` (default: the whole tree) with the ``Vitco-Key: key`` trailer,
        without looking for an earlier commit of ``key`` first (``commit`` does; a caller that
        just looked saves the second ``git log``).

        Naming the paths keeps files that tests or tools left behind out of the commit; the
        paths go to ``git update-index`` on stdin, so their number is bounded neither by the
        argument limit nor by pathspec matching (quadratic in the number of paths). A path
        that is neither on disk nor tracked is left out; which are tracked is only asked of git
        when some path is not on disk (a deletion). Any ``Vitco-*`` trailer line in
        ``message`` is dropped: only vitco writes them.
        """
        if paths is None:
            self.git("add", "-A")
        else:
            named = list(paths)
            gone = [p for p in named if not os.path.lexists(self.path / p)]
            tracked = set(self.git("ls-files", "-z").split("\0")) if gone else set()
            present = [p for p in named if p in tracked or p not in gone]
            if present:  # plain paths, not pathspecs: linear in their number
                listing = "\0".join(present) + "\0"
                self.git("update-index", "--add", "--remove", "-z", "--stdin", stdin=listing)
        text = "\n".join(ln for ln in message.splitlines() if not _TRAILER.match(ln)).strip()
        self.git(
            "commit",
            "-q",
            "--allow-empty",
            "--no-verify",
            "-F",
            "-",
            stdin=f"{text or 'Update'}\n\nVitco-Key: {key}\n",
        )

    def missing(self, paths: Iterable[str], ref: str = "HEAD") -> list[str]:
        """Those of ``paths`` that are not files of ``ref``'s tree."""
        tree = set(self.git("ls-tree", "-r", "-z", "--name-only", ref).split("\0"))
        return sorted(p for p in paths if p not in tree)

    def commit_count(self, ref: str = "main") -> int:
        return int(self.git("rev-list", "--count", ref))

    def tag(self, name: str, ref: str = "main") -> None:
        self.git("tag", "-f", name, ref)

    # branches and worktrees -----------------------------------------------------------------

    def branch(self) -> str:
        """The branch checked out here."""
        return self.git("rev-parse", "--abbrev-ref", "HEAD")

    def _add_worktree(self, path: Path, branch: str, start: str) -> Repo:
        """The worktree at ``path`` on ``branch``, made from ``start`` if the branch is new.

        A new branch at a new path is one ``git worktree add -b``; only when that fails (the
        branch exists, a stale registration holds the path) are stale worktrees pruned and
        the branch looked up, as every call did before (three git processes, not one)."""
        with _lock_for(self.path.resolve()):
            if not (path / ".git").exists():
                if self.succeeds("worktree", "add", "-q", "-b", branch, str(path), start):
                    return Repo(path)
                self.git("worktree", "prune")
                if self.git("rev-parse", "--verify", "-q", branch, check=False):
                    self.git("worktree", "add", "-q", "-f", str(path), branch)
                else:
                    self.git("worktree", "add", "-q", "-b", branch, str(path), start)
        return Repo(path)

    def worktree(self, name: str, base: str = "main") -> Repo:
        """The worktree of task ``name`` on branch ``task/<name>``, created from ``base``."""
        return self._add_worktree(self.task_tree_path(name), f"task/{name}", base)

    def run_tree(self, run_id: str, branch: str, start: str) -> Repo:
        """The worktree where a forked run's own branch is checked out."""
        return self._add_worktree(self.run_tree_path(run_id), branch, start)

    def integrate(self, name: str, into: Repo | None = None) -> str:
        """Rebase ``task/<name>`` onto the branch checked out in ``into`` (default: this
        repository's main) and fast-forward that branch to it; returns the new head.

        Serialized per repository: merges land one at a time. A conflict aborts the rebase and
        raises ``MergeConflict`` naming the files, leaving the target branch untouched. A task
        branch already on top of the target (nothing landed since it started) is fast-forwarded
        at once: rebasing its own linear commits onto their base would leave them as they are,
        so only a fast-forward that git refuses costs the rebase (two processes of four).
        """
        target = into or self
        branch = f"task/{name}"
        tree = Repo(self.task_tree_path(name))
        with _lock_for(self.path.resolve()):
            if target.succeeds("merge", "-q", "--ff-only", branch):
                return target.head()
            onto = target.branch()
            proc = subprocess.run(
                ["git", *GUARDS, *AUTHOR, *DEFERRED, "rebase", "-q", onto],
                cwd=tree.path,
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                conflicted = tree.git("diff", "--name-only", "--diff-filter=U", check=False)
                tree.git("rebase", "--abort", check=False)
                raise MergeConflict(branch, conflicted.splitlines())
            target.git("merge", "-q", "--ff-only", branch)
            return target.head()

    def reset_to(self, ref: str) -> None:
        """Drop this worktree's own commits and changes: start over from ``ref``."""
        self.git("reset", "-q", "--hard", ref)

    def maintain(self) -> None:
        """What git would have done after each command (``DEFERRED``): pack loose objects
        when there are many, and its other automatic upkeep. Best effort: a run ending calls
        it, and a later one catches up on what a failed one left."""
        self.git("maintenance", "run", "--auto", "--quiet", check=False)

    def recover(self) -> list[str]:
        """Undo what a killed or interrupted process left half-done: every lock file git can
        leave (index, HEAD, refs, packed-refs, config, the worktrees' own), a rebase in
        progress, worktrees whose folder is gone.

        Only safe while no other process works on this repository (a run's worker holds it).
        Returns what was cleaned, for the run's events.
        """
        cleaned = []
        git_dir = self.path / ".git"
        for folder, _dirs, files in os.walk(git_dir):  # root's own .git: never a sandbox's
            for name in files:
                if name.endswith(".lock"):
                    lock = Path(folder) / name
                    lock.unlink(missing_ok=True)
                    cleaned.append(str(lock.relative_to(self.path)))
        for state in git_dir.glob("worktrees/*/rebase-*"):
            tree = Path((state.parent / "gitdir").read_text(encoding="utf-8").strip()).parent
            if tree.exists():
                Repo(tree).git("rebase", "--abort", check=False)
                cleaned.append(f"rebase in {tree}")
        self.git("worktree", "prune", check=False)
        return cleaned

    def remove_worktree(self, name: str) -> None:
        path = self.task_tree_path(name)
        if path.exists():
            self.git("worktree", "remove", "--force", str(path), check=False)


@functools.lru_cache(maxsize=LISTINGS)
def _listing(path: Path, sha: str) -> tuple[TreeEntry, ...]:
    return _list_tree(Repo(path), sha)


def _list_tree(repo: Repo, ref: str) -> tuple[TreeEntry, ...]:
    out = repo.git("ls-tree", "-r", "-z", "--long", "--full-tree", ref)
    entries = []
    for record in out.split("\0"):
        meta, _, path = record.partition("\t")
        fields = meta.split()
        if len(fields) == 4 and fields[0] in ("100644", "100755") and fields[1] == "blob":
            executable = fields[0] == "100755"
            entries.append(TreeEntry(path, fields[2], int(fields[3]), executable))
    return tuple(entries)
