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
