"""The local git host reads a repository's reviews in two git processes however many there
are: opening a project's n-th review started n + 1 (one ``cat-file`` per review recorded, read
again at every later one), so a plan of many tasks, or many runs on one project, grew its git
work with the square of its reviews. Real git and bare repositories; the processes are counted
as they start."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from vitco.integrations.git import Repo
from vitco.integrations.git.exceptions import GitError
from vitco.integrations.git.host import branch_ref
from vitco.integrations.git.local_host import LocalGitHost


def _branch(repo: Repo, name: str) -> None:
    repo.git("checkout", "-q", "-b", name, "main")
    (repo.path / f"{name.replace('/', '-')}.txt").write_text(name, encoding="utf-8")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", f"work on {name}")
    repo.git("checkout", "-q", "main")


def test_opening_the_tenth_review_starts_as_many_git_processes_as_the_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = LocalGitHost(tmp_path / "host")
    repo = Repo.init(tmp_path / "project")
    host.ensure_repo("many")
    started: list[list[str]] = []
    run = subprocess.run

    def counted(args: Any, *rest: Any, **kwargs: Any) -> Any:
        started.append(list(args))
        return run(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "run", counted)
    per_review = []
    for n in range(1, 11):
        branch = f"task/r1/T{n}"
        _branch(repo, branch)
        host.push(repo, "many", [branch_ref("main"), branch_ref(branch)])
        started.clear()
        review = host.open_review("many", branch=branch, base="main", title=f"T{n}", body="ok")
        per_review.append(len(started))
        assert review.number == n and review.branch == branch
    again = host.open_review("many", branch="task/r1/T4", base="main", title="T4", body="ok")
    assert again.number == 4  # an open review is found among the others, as before
    assert per_review[-1] == per_review[1], per_review
    assert [r.number for r in host.reviews("many")] == list(range(1, 11))


def _hosted_review(tmp_path: Path) -> tuple[LocalGitHost, Repo, int]:
    host = LocalGitHost(tmp_path / "host")
    repo = Repo.init(tmp_path / "project")
    host.ensure_repo("shop")
    _branch(repo, "task/r1/T1")
    host.push(repo, "shop", [branch_ref("main"), branch_ref("task/r1/T1")])
    review = host.open_review("shop", branch="task/r1/T1", base="main", title="T1", body="ok")
    return host, repo, review.number


def test_a_base_moved_during_a_merge_is_kept_and_the_review_stays_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The base and the review's record move in one transaction, each only from what was
    read: a push that lands on the base meanwhile is never overwritten, and the review is
    not recorded merged."""
    host, _repo, number = _hosted_review(tmp_path)
    bare = Repo(host.path_of("shop"))
    empty_tree = bare.git("hash-object", "-t", "tree", "-w", "--stdin", stdin="")
    pushed = bare.git("commit-tree", empty_tree, "-p", bare.head("main"), "-m", "a push")
    git = Repo.git

    def racing(self: Repo, *args: str, **kwargs: Any) -> str:
        if args[:1] == ("merge-base",):  # the shas are read: another push lands now
            git(bare, "update-ref", "refs/heads/main", pushed)
        return git(self, *args, **kwargs)

    monkeypatch.setattr(Repo, "git", racing)
    with pytest.raises(GitError):
        host.merge_review("shop", number)
    monkeypatch.undo()
    assert bare.head("main") == pushed
    (review,) = host.reviews("shop")
    assert not review.merged and review.merge_sha is None


def test_a_branch_already_in_the_base_is_recorded_merged_without_moving_the_base(
    tmp_path: Path,
) -> None:
    host, repo, _number = _hosted_review(tmp_path)
    repo.git("merge", "-q", "--ff-only", "task/r1/T1")
    host.push(repo, "shop", [branch_ref("main")])
    repo.git("branch", "-q", "-f", "task/r1/T0", "main~1")  # a branch main already holds
    host.push(repo, "shop", [branch_ref("task/r1/T0")])
    base = Repo(host.path_of("shop")).head("main")
    opened = host.open_review("shop", branch="task/r1/T0", base="main", title="T0", body="ok")
    merged = host.merge_review("shop", opened.number)
    assert merged.merged and merged.merge_sha == base
    assert Repo(host.path_of("shop")).head("main") == base
    assert host.merge_review("shop", opened.number) == merged  # a merged review as it is


def test_a_review_just_opened_is_merged_from_what_opening_it_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The merge that follows an opening in the same process reads neither the record nor
    the branches again (two git processes a task); another process's merge (a resumed
    step) reads them, and both merge the same."""
    host, repo, number = _hosted_review(tmp_path)
    started: list[str] = []
    run = subprocess.run

    def counted(args: Any, *rest: Any, **kwargs: Any) -> Any:
        words = [a for a in args[1:] if not a.startswith("-")]
        started.append(next(w for w in words if "=" not in w))
        return run(args, *rest, **kwargs)

    head = repo.head("task/r1/T1")
    monkeypatch.setattr(subprocess, "run", counted)
    merged = host.merge_review("shop", number)
    assert "for-each-ref" not in started and "rev-parse" not in started, started
    assert merged.merged and merged.merge_sha == head
    assert Repo(host.path_of("shop")).head("main") == merged.merge_sha
    # a review opened by another process (a host of its own): read, then merged the same way
    _branch(repo, "task/r1/T2")
    host.push(repo, "shop", [branch_ref("task/r1/T2")])
    other = LocalGitHost(host.root)
    opened = other.open_review("shop", branch="task/r1/T2", base="main", title="T2", body="ok")
    started.clear()
    again = host.merge_review("shop", opened.number)
    assert "for-each-ref" in started and again.merged, started
    assert Repo(host.path_of("shop")).head("main") == again.merge_sha
