"""The default git host: a bare repository per project under the data dir (``<home>/git``).

Runs push their task branches to it with git itself. A review is recorded inside the bare
repository, so it travels with every clone of it: ``refs/reviews/<n>`` points at a blob
holding the review as JSON, created with ``git update-ref <ref> <blob> <zero>`` (git's own lock
makes the number unique across processes) and moved only from the blob it was read from
(compare-and-swap). Merging happens without a working tree: a fast-forward when the base is
behind the branch, else ``git merge-tree --write-tree`` and ``git commit-tree``, and the base
moves with a compare-and-swap too, so a concurrent push is never overwritten. A comment on an
issue is a blob under ``refs/comments/<issue>/<n>`` the same way (a bare repository has no
issues; the record says what would have been posted, in the repository ``owner--repo`` for an
issue of GitHub's ``owner/repo``).

Every name is checked (``host.check_name``, ``check_ref``) before it becomes a path, and the
path is checked again to be a direct child of the root after resolving.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

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
HOST = "local git host"


class LocalGitHost:
    """Bare repositories under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

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

    def _records(self, bare: Repo, prefix: str) -> list[tuple[str, str, dict[str, object]]]:
        """(ref, blob, content) of every record under ``prefix``: two git processes however
        many there are (one per record made opening a project's n-th review cost n + 1, each
        of its reviews read again at every later one)."""
        out = bare.git("for-each-ref", "--format=%(refname) %(objectname)", prefix)
        pairs = [line.partition(" ")[::2] for line in out.splitlines()]
        contents = bare.read_blobs(blob for _ref, blob in pairs)
        missing = [blob for _ref, blob in pairs if blob not in contents]
        if missing:
            raise GitError(["cat-file", "--batch"], f"missing {', '.join(missing)}", 1)
        return [(ref, blob, json.loads(contents[blob])) for ref, blob in pairs]

    def _create(self, bare: Repo, prefix: str, content: dict[str, object]) -> int:
        """Store ``content`` at the next free ``<prefix>/<n>``; returns n."""
        number = len(bare.git("for-each-ref", "--format=%(refname)", prefix).splitlines()) + 1
        while True:  # another process took the number: the next one
            record = json.dumps(content | {"number": number})
            blob = bare.git("hash-object", "-w", "--stdin", stdin=record)
            if _git(bare, "update-ref", f"{prefix}/{number}", blob, ZERO).returncode == 0:
                return number
            number += 1

    def _review(self, bare: Repo, number: int) -> tuple[str, Review]:
        ref = f"refs/reviews/{int(number)}"
        blob = bare.git("rev-parse", "-q", "--verify", ref, check=False)
        if not blob:
            raise HostRefused(HOST, f"read review #{number}", 404, "no such review")
        return blob, Review.model_validate_json(bare.git("cat-file", "blob", blob))

    def open_review(self, name: str, *, branch: str, base: str, title: str, body: str) -> Review:
        bare = self._bare(name)
        head_ref, base_ref = branch_ref(branch), branch_ref(base)
        for _ref, _blob, content in self._records(bare, "refs/reviews"):
            review = Review.model_validate(content)
            if review.branch == branch and review.base == base:
                return review
        for ref in (head_ref, base_ref):
            if not bare.git("rev-parse", "-q", "--verify", ref, check=False):
                raise HostRefused(HOST, f"open a review of {branch}", 422, f"no {ref} on {name}")
        content = {"branch": branch, "base": base, "title": title, "body": body}
        number = self._create(bare, "refs/reviews", content | {"url": ""})
        blob, review = self._review(bare, number)
        review = review.model_copy(update={"url": f"{bare.path.as_uri()}#review-{number}"})
        new = bare.git("hash-object", "-w", "--stdin", stdin=review.model_dump_json())
        bare.git("update-ref", f"refs/reviews/{number}", new, blob)
        return review

    def merge_review(self, name: str, number: int) -> Review:
        bare = self._bare(name)
        blob, review = self._review(bare, number)
        if review.merged:
            return review
        base_ref = branch_ref(review.base)
        base, head = bare.head(base_ref), bare.head(branch_ref(review.branch))
        if _is_ancestor(bare, head, base):
            merged = base  # already in the base
        elif _is_ancestor(bare, base, head):
            merged = head  # a fast-forward
        else:
            proc = _git(bare, "merge-tree", "--write-tree", "--no-messages", base, head)
            if proc.returncode != 0:
                conflict = f"{review.branch} conflicts with {review.base}"
                raise HostRefused(HOST, f"merge review #{number}", 409, conflict)
            tree = proc.stdout.split()[0]
            message = f"Merge review #{number}: {review.title}"
            merged = bare.git("commit-tree", tree, "-p", base, "-p", head, "-m", message)
        if merged != base:
            bare.git("update-ref", base_ref, merged, base)  # fails if the base moved meanwhile
        review = review.model_copy(update={"merged": True, "merge_sha": merged})
        new = bare.git("hash-object", "-w", "--stdin", stdin=review.model_dump_json())
        bare.git("update-ref", f"refs/reviews/{number}", new, blob)
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
        number = self._create(bare, prefix, {"issue": int(issue), "body": body})
        return Comment(id=number, url=f"{bare.path.as_uri()}#comment-{issue}-{number}", body=body)

    def comments(self, name: str, issue: int) -> list[str]:
        bare = self._bare(name)
        records = [c for _r, _b, c in self._records(bare, f"refs/comments/{int(issue)}")]
        return [str(c["body"]) for c in sorted(records, key=lambda c: str(c["number"]).zfill(9))]


def _git(bare: Repo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *GUARDS, *AUTHOR, *args],
        cwd=bare.path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _is_ancestor(bare: Repo, older: str, newer: str) -> bool:
    return _git(bare, "merge-base", "--is-ancestor", older, newer).returncode == 0
