"""The default git host: a bare repository per project under the data dir (``<home>/git``).

Runs push their task branches to it with git itself. A review is recorded inside the bare
repository, so it travels with every clone of it: ``refs/reviews/<n>`` points at a blob
holding the review as JSON, created with ``git update-ref <ref> <blob> <zero>`` (git's own lock
makes the number unique across processes) and moved only from the blob it was read from
(compare-and-swap). Merging happens without a working tree: a fast-forward when the base is
behind the branch, else ``git merge-tree --write-tree`` and ``git commit-tree``, and the base
moves with a compare-and-swap too, so a concurrent push is never overwritten; the base and the
review's record move in one ``git update-ref --stdin`` transaction, both or neither. The
records are read with their contents in one ``git for-each-ref`` (``%(raw)``), so opening and
merging a review costs the same few git processes however many a repository holds. A comment
on an issue is a blob under ``refs/comments/<issue>/<n>`` the same way (a bare repository has
no issues; the record says what would have been posted, in the repository ``owner--repo`` for
an issue of GitHub's ``owner/repo``).

Every name is checked (``host.check_name``, ``check_ref``) before it becomes a path, and the
path is checked again to be a direct child of the root after resolving.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from vitco.integrations.git.exceptions import GitError, HostRefused, UnsafeName
from vitco.integrations.git.host import (
    Comment,
    HostedRepo,
    Review,
    branch_ref,
    check_full_name,
    check_name,
    check_ref,
)
from vitco.integrations.git.repo import AUTHOR, GUARDS, Repo

ZERO = "0" * 40
# a ref, its object, the object's type and size; then a blob's bytes (a record), else nothing
_LISTING = (
    "%(refname) %(objectname) %(objecttype) %(objectsize)%0a"
    "%(if:equals=blob)%(objecttype)%(then)%(raw)%(end)"
)
HOST = "local git host"
OPENED = 64
"""How many reviews opened and not yet merged a process remembers (``merge_review``)."""


class _Opened(NamedTuple):
    """A review as its opening read it: its record's blob, the base's and the head's commits."""

    blob: str
    review: Review
    base: str
    head: str


class LocalGitHost:
    """Bare repositories under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # what ``open_review`` read and wrote, for the ``merge_review`` that follows it
        self._opened: OrderedDict[tuple[str, int], _Opened] = OrderedDict()
        self._opened_lock = threading.Lock()

    # repositories -----------------------------------------------------------------------------

    def path_of(self, name: str) -> Path:
        """Where repository ``name`` lives; ``UnsafeName`` for a name that could leave."""
        path = self.root / f"{check_name(name)}.git"
        root = self.root.resolve()
        if path.resolve().parent != root:  # the root or a repository is a link elsewhere
            raise UnsafeName("repository name", name, f"does not stay inside {root}")
        return path

    def _bare(self, name: str) -> Repo:
        path = self.path_of(name)
        if not (path / "HEAD").is_file():
            raise HostRefused(HOST, f"open {name}", 404, "no such repository")
        return Repo(path)

    def ensure_repo(self, name: str, description: str = "") -> HostedRepo:
        path = self.path_of(name)
        if not (path / "HEAD").is_file():
            self.root.mkdir(parents=True, exist_ok=True)
            proc = subprocess.run(
                ["git", "init", "-q", "--bare", "-b", "main", str(path)],
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
            if proc.returncode != 0:
                raise GitError(["init", "--bare", str(path)], proc.stderr, proc.returncode)
            if description:
                (path / "description").write_text(description[:500] + "\n", encoding="utf-8")
        return HostedRepo(name=name, clone_url=str(path), web_url=path.as_uri())

    def push(self, repo: Repo, name: str, refs: Sequence[str]) -> None:
        target = self._bare(name)
        specs = [f"{check_ref(r)}:{r}" for r in refs]
        if specs:
            repo.git("push", "-q", "--no-verify", str(target.path.resolve()), *specs)

    # reviews ----------------------------------------------------------------------------------

    def _refs(self, bare: Repo, *patterns: str) -> dict[str, tuple[str, bytes | None]]:
        """ref -> (object id, the object's bytes if it is a blob) of every ref ``patterns``
        name (a prefix such as ``refs/reviews``, or a whole ref): one ``git for-each-ref``
        however many there are, the records' contents with them (``%(raw)``)."""
        data = bare.git_bytes("for-each-ref", f"--format={_LISTING}", *patterns)
        found: dict[str, tuple[str, bytes | None]] = {}
        at = 0
        while at < len(data):
            end = data.index(b"\n", at)
            ref, sha, kind, size = data[at:end].decode().rsplit(" ", 3)
            at = end + 1
            content = None
            if kind == "blob":
                content = data[at : at + int(size)]
                at += int(size)
            if data[at : at + 1] != b"\n":
                raise GitError(["for-each-ref", *patterns], f"unexpected listing at {ref}", 1)
            at += 1
            found[ref] = (sha, content)
        return found

    def _records(self, bare: Repo, prefix: str) -> list[tuple[str, str, dict[str, object]]]:
        """(ref, blob, content) of every record under ``prefix``, in one git process."""
        return _parsed(self._refs(bare, prefix), prefix)

    def _create(
        self, bare: Repo, prefix: str, number: int, record: Callable[[int], str],
        blobs: dict[int, str] | None = None,
    ) -> int:  # fmt: skip
        """Store ``record(n)`` at the first free ``<prefix>/<n>`` from ``number`` on (the
        number of records there are plus one); returns n (and its blob in ``blobs``)."""
        while True:  # another process took the number: the next one
            blob = bare.git("hash-object", "-w", "--stdin", stdin=record(number))
            if bare.succeeds("update-ref", f"{prefix}/{number}", blob, ZERO):
                if blobs is not None:
                    blobs[number] = blob
                return number
            number += 1

    def open_review(self, name: str, *, branch: str, base: str, title: str, body: str) -> Review:
        bare = self._bare(name)
        head_ref, base_ref = branch_ref(branch), branch_ref(base)
        refs = self._refs(bare, "refs/reviews", head_ref, base_ref)
        records = _parsed(refs, "refs/reviews")
        for _ref, blob, content in records:
            review = Review.model_validate(content)
            if review.branch == branch and review.base == base:
                self._remember(name, review, blob, refs, head_ref, base_ref)
                return review
        for ref in (head_ref, base_ref):
            if ref not in refs:
                raise HostRefused(HOST, f"open a review of {branch}", 422, f"no {ref} on {name}")
        blobs: dict[int, str] = {}

        def record(number: int) -> str:  # made whole at once: its URL names its number
            url = f"{bare.path.as_uri()}#review-{number}"
            review = Review(number=number, branch=branch, base=base, title=title, body=body,
                            url=url)  # fmt: skip
            return review.model_dump_json()

        number = self._create(bare, "refs/reviews", len(records) + 1, record, blobs)
        review = Review.model_validate_json(record(number))
        self._remember(name, review, blobs[number], refs, head_ref, base_ref)
        return review

    def _remember(
        self, name: str, review: Review, blob: str,
        refs: dict[str, tuple[str, bytes | None]], head_ref: str, base_ref: str,
    ) -> None:  # fmt: skip
        """Keep what ``open_review`` knows of ``review`` for the ``merge_review`` that
        follows it in this process (see ``merge_review``)."""
        opened = _Opened(blob, review, refs[base_ref][0], refs[head_ref][0])
        with self._opened_lock:
            self._opened[(name, review.number)] = opened
            while len(self._opened) > OPENED:
                self._opened.popitem(last=False)

    def merge_review(self, name: str, number: int) -> Review:
        """Merge review ``number`` into its base.

        A review this process just opened (``publish.publish_task`` merges it right after) is
        merged from what opening it read (its record's blob, the base's and the branch's
        commits): two git processes fewer a task. Every move is a compare-and-swap from what
        was read, so a push that lands on the base meanwhile is never overwritten: the swap
        fails (``GitError``) and the review stays open, as when the push lands during the
        merge itself; the window is the few milliseconds from the opening's read on rather
        than from the merge's, and a step run again opens (reads) and merges afresh."""
        bare = self._bare(name)
        with self._opened_lock:
            opened = self._opened.pop((name, int(number)), None)
        if opened is not None:
            return self._merge(bare, opened)
        ref = f"refs/reviews/{int(number)}"
        found = self._refs(bare, ref).get(ref)
        if found is None or found[1] is None:
            raise HostRefused(HOST, f"read review #{number}", 404, "no such review")
        blob, review = found[0], Review.model_validate_json(found[1])
        if review.merged:
            return review
        base, head = bare.git(
            "rev-parse", branch_ref(review.base), branch_ref(review.branch)
        ).split()
        return self._merge(bare, _Opened(blob, review, base, head))

    def _merge(self, bare: Repo, opened: _Opened) -> Review:
        """Merge ``opened.review`` (its record ``opened.blob``) from base ``opened.base`` and
        branch head ``opened.head`` as read: ``GitError`` when the swap finds them moved."""
        blob, review, base, head = opened
        if review.merged:
            return review
        number, ref = review.number, f"refs/reviews/{review.number}"
        base_ref = branch_ref(review.base)
        # one merge-base says which holds the other: the branch is in the base already when
        # it is their merge base, a fast-forward when the base is
        fork = bare.git("merge-base", base, head, check=False)
        if head in (base, fork):
            merged = base  # already in the base
        elif fork == base:
            merged = head  # a fast-forward
        else:
            proc = _git(bare, "merge-tree", "--write-tree", "--no-messages", base, head)
            if proc.returncode != 0:
                conflict = f"{review.branch} conflicts with {review.base}"
                raise HostRefused(HOST, f"merge review #{number}", 409, conflict)
            tree = proc.stdout.split()[0]
            message = f"Merge review #{number}: {review.title}"
            merged = bare.git("commit-tree", tree, "-p", base, "-p", head, "-m", message)
        review = review.model_copy(update={"merged": True, "merge_sha": merged})
        new = bare.git("hash-object", "-w", "--stdin", stdin=review.model_dump_json())
        # the base and the review move together or not at all (one transaction), each only
        # from what was read: a base a concurrent push moved is never overwritten
        moves = f"update {ref} {new} {blob}\n"
        if merged != base:
            moves = f"update {base_ref} {merged} {base}\n" + moves
        bare.git("update-ref", "--stdin", stdin=moves)
        return review

    def reviews(self, name: str) -> list[Review]:
        """Every review of repository ``name``, by number."""
        bare = self._bare(name)
        found = [Review.model_validate(c) for _r, _b, c in self._records(bare, "refs/reviews")]
        return sorted(found, key=lambda r: r.number)

    def comment(self, name: str, issue: int, body: str) -> Comment:
        """Record the comment in repository ``name`` (``owner/repo``: ``owner--repo``), made
        if need be: the issue itself lives elsewhere."""
        repo = "--".join(check_full_name(name)) if "/" in name else check_name(name)
        self.ensure_repo(repo)
        bare = self._bare(repo)
        prefix = f"refs/comments/{int(issue)}"
        content = {"issue": int(issue), "body": body}
        first = len(self._refs(bare, prefix)) + 1
        number = self._create(bare, prefix, first, lambda n: json.dumps(content | {"number": n}))
        return Comment(id=number, url=f"{bare.path.as_uri()}#comment-{issue}-{number}", body=body)

    def comments(self, name: str, issue: int) -> list[str]:
        bare = self._bare(name)
        records = [c for _r, _b, c in self._records(bare, f"refs/comments/{int(issue)}")]
        return [str(c["body"]) for c in sorted(records, key=lambda c: str(c["number"]).zfill(9))]


def _parsed(
    refs: dict[str, tuple[str, bytes | None]], prefix: str
) -> list[tuple[str, str, dict[str, object]]]:
    """The records under ``prefix`` of a ``_refs`` listing: (ref, blob, content)."""
    records = []
    for ref, (blob, content) in refs.items():
        if ref.startswith(prefix + "/"):
            if content is None:  # only blobs are recorded there
                raise GitError(["for-each-ref", prefix], f"{ref} is not a record", 1)
            records.append((ref, blob, json.loads(content)))
    return records


def _git(bare: Repo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *GUARDS, *AUTHOR, *args],
        cwd=bare.path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
