"""The project's git repository, driven through real git."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from vitco.integrations.git.exceptions import GitError, MergeConflict
from vitco.integrations.git.repo import GITIGNORE, Repo
from vitco.workspace.exceptions import UnsafePath


@dataclass(frozen=True)
class FileChange:
    """A change as ``Repo.apply`` takes it, built without the model-output validation (which
    refuses some of these paths first): the repository checks every path on its own."""

    path: str
    action: str = "write"
    content: str | None = None


def write(path: str, content: str) -> FileChange:
    return FileChange(path=path, content=content)


def delete(path: str) -> FileChange:
    return FileChange(path=path, action="delete")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo.init(tmp_path / "project")


def _subjects(repo: Repo, ref: str = "main") -> list[str]:
    return repo.git("log", "--format=%s", ref).splitlines()


def test_init_makes_a_main_branch_with_one_commit(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "new" / "project")

    assert repo.git("branch", "--show-current") == "main"
    assert _subjects(repo) == ["Start project"]
    assert (repo.path / ".gitignore").read_text(encoding="utf-8") == GITIGNORE
    assert repo.git("status", "--porcelain") == ""


def test_init_twice_keeps_the_history(repo: Repo) -> None:
    head = repo.head()
    again = Repo.init(repo.path)
    assert again.head() == head
    assert again.commit_count() == 1


def test_apply_writes_and_deletes(repo: Repo) -> None:
    (repo.path / "old.py").write_text("old\n", encoding="utf-8")

    applied = repo.apply(
        [write("pkg/app.py", "x = 1\n"), write("README.md", ""), delete("old.py"), delete("gone")]
    )

    assert applied == ["pkg/app.py", "README.md", "old.py", "gone"]
    assert (repo.path / "pkg" / "app.py").read_text(encoding="utf-8") == "x = 1\n"
    assert (repo.path / "README.md").read_text(encoding="utf-8") == ""
    assert not (repo.path / "old.py").exists()
    assert repo.files() == [".gitignore", "README.md", "pkg/app.py"]


@pytest.mark.parametrize("bad", ["../escape.py", ".git/hooks/pre-commit", "/tmp/abs.py"])
def test_apply_writes_nothing_when_one_path_is_unsafe(repo: Repo, bad: str) -> None:
    (repo.path / "keep.py").write_text("keep\n", encoding="utf-8")
    before = sorted(p.relative_to(repo.path) for p in repo.path.rglob("*"))

    with pytest.raises(UnsafePath) as info:
        repo.apply([write("new.py", "new\n"), delete("keep.py"), write(bad, "evil\n")])

    assert info.value.path == bad
    assert sorted(p.relative_to(repo.path) for p in repo.path.rglob("*")) == before
    assert (repo.path / "keep.py").read_text(encoding="utf-8") == "keep\n"
    assert not (repo.path.parent / "escape.py").exists()


def test_files_and_read_files_skip_ignored_folders(repo: Repo) -> None:
    repo.apply([write("app.py", "a = 1\n"), write("tests/test_app.py", "b = 2\n")])
    (repo.path / ".venv").mkdir()
    (repo.path / ".venv" / "pyvenv.cfg").write_text("x", encoding="utf-8")
    (repo.path / "blob.bin").write_bytes(b"\xff\xfe\x00")

    assert repo.files() == [".gitignore", "app.py", "blob.bin", "tests/test_app.py"]
    contents = repo.read_files()
    assert list(contents) == [".gitignore", "app.py", "tests/test_app.py"]
    assert contents["app.py"] == "a = 1\n"
    assert list(repo.read_files(limit_bytes=7)) == ["app.py"]  # smallest first, within budget


def test_commit_is_idempotent_per_key(repo: Repo) -> None:
    repo.apply([write("app.py", "x = 1\n")])

    sha = repo.commit("Add app", key="run1/T1")
    (repo.path / "app.py").write_text("x = 2\n", encoding="utf-8")
    again = repo.commit("Add app", key="run1/T1")

    assert again == sha == repo.head()
    assert repo.commit_count() == 2
    assert repo.find_commit("run1/T1") == sha
    assert repo.find_commit("run1/T2") is None
    assert "Vitco-Key: run1/T1" in repo.git("log", "-1", "--format=%B")
    assert repo.git("status", "--porcelain") == "M app.py"  # the repeat committed nothing


def test_a_key_that_is_a_prefix_of_another_is_a_different_commit(repo: Repo) -> None:
    first = repo.commit("One", key="run1/T1")
    second = repo.commit("Ten", key="run1/T10")
    assert first != second
    assert repo.find_commit("run1/T1") == first


def test_commit_of_named_paths_leaves_stray_files_out(repo: Repo) -> None:
    repo.apply([write("app.py", "x = 1\n"), write("stale.py", "s\n")])
    repo.commit("Start", key="k0")
    repo.apply([write("app.py", "x = 2\n"), write("tests/test_app.py", "t\n"), delete("stale.py")])
    (repo.path / "stray.log").write_text("left by a test run\n", encoding="utf-8")

    repo.commit("Change app", key="k1", paths=["app.py", "tests/test_app.py", "stale.py"])

    changed = repo.git("show", "--name-status", "--format=", "HEAD").splitlines()
    assert sorted(changed) == ["A\ttests/test_app.py", "D\tstale.py", "M\tapp.py"]
    assert repo.git("status", "--porcelain") == "?? stray.log"


def test_a_failing_git_command_raises_git_error(repo: Repo) -> None:
    with pytest.raises(GitError) as info:
        repo.git("rev-parse", "--verify", "no-such-branch")
    assert info.value.args_ == ["rev-parse", "--verify", "no-such-branch"]
    assert info.value.code != 0


def test_worktrees_integrate_one_commit_per_task_fast_forward(repo: Repo) -> None:
    base = repo.head()
    t1 = repo.worktree("T1")
    t2 = repo.worktree("T2")
    assert repo.worktree("T1").path == t1.path  # asking again returns the same tree

    t1.apply([write("store.py", "STORE = {}\n")])
    t1.commit("Add store", key="r/T1")
    t2.apply([write("api.py", "ROUTES = []\n")])
    t2.commit("Add api", key="r/T2")
    assert repo.head("main") == base  # nothing lands before integrate

    after_t2 = repo.integrate("T2")
    after_t1 = repo.integrate("T1")

    assert after_t1 == repo.head("main") == repo.head("HEAD")
    assert after_t2 != after_t1
    assert _subjects(repo) == ["Add store", "Add api", "Start project"]
    assert repo.git("rev-list", "--merges", "main") == ""  # linear: no merge commits
    assert (repo.path / "store.py").is_file()
    assert (repo.path / "api.py").is_file()
    assert repo.git("status", "--porcelain") == ""


def test_a_conflicting_second_task_raises_and_leaves_main_alone(repo: Repo) -> None:
    repo.apply([write("config.py", "NAME = 'base'\n")])
    repo.commit("Add config", key="r/base")
    t1, t2 = repo.worktree("T1"), repo.worktree("T2")
    t1.apply([write("config.py", "NAME = 'one'\n")])
    t1.commit("Name one", key="r/T1")
    t2.apply([write("config.py", "NAME = 'two'\n"), write("other.py", "o = 1\n")])
    t2.commit("Name two", key="r/T2")
    t2_head = t2.head()

    after_t1 = repo.integrate("T1")
    with pytest.raises(MergeConflict) as info:
        repo.integrate("T2")

    assert info.value.files == ["config.py"]
    assert info.value.branch == "task/T2"
    assert "config.py" in str(info.value)
    assert repo.head("main") == after_t1
    assert (repo.path / "config.py").read_text(encoding="utf-8") == "NAME = 'one'\n"
    assert not (repo.path / "other.py").exists()
    # the rebase was aborted: the task branch is as it was, its tree clean
    assert t2.head() == t2_head
    assert t2.git("status", "--porcelain") == ""


def test_a_worktree_is_made_again_on_its_branch_after_a_removal_or_a_lost_folder(
    repo: Repo,
) -> None:
    """A new task's worktree is one ``git worktree add -b``; a task whose branch exists (a
    resumed run) or whose folder went without git knowing gets its tree back all the same."""
    tree = repo.worktree("T1")
    tree.apply([write("store.py", "STORE = {}\n")])
    made = tree.commit("Add store", key="r/T1")
    repo.remove_worktree("T1")

    again = repo.worktree("T1")  # the branch is there: checked out, not made anew
    assert again.head() == made and (again.path / "store.py").is_file()
    shutil.rmtree(again.path)  # gone, still registered with git

    back = repo.worktree("T1")
    assert back.head() == made and back.branch() == "task/T1"
    assert back.git("status", "--porcelain") == ""


def test_remove_worktree_and_tag(repo: Repo) -> None:
    tree = repo.worktree("T1")
    tree.commit("Empty", key="r/T1")
    repo.integrate("T1")
    repo.remove_worktree("T1")
    repo.tag("delivered")

    assert not tree.path.exists()
    assert repo.head("delivered") == repo.head("main")
    repo.remove_worktree("T1")  # a second removal is a no-op


def test_a_commit_of_more_paths_than_the_argument_limit_holds(repo: Repo) -> None:
    # 20,000 paths of ~120 bytes: 2.4 MB, more than Linux lets one command line carry (2 MB).
    folder = "d" * 40
    names = [f"{folder}/{i:05d}-{'x' * 70}.py" for i in range(20_000)]
    (repo.path / folder).mkdir()
    for name in names:
        (repo.path / name).write_bytes(b"")
    assert sum(len(n) + 1 for n in names) > 2 * 1024 * 1024
    sha = repo.commit("Many files", key="r-many/T1", paths=names)
    assert repo.missing(names, sha) == []
    assert repo.git("log", "-1", "--format=%B").strip().endswith("Vitco-Key: r-many/T1")


def test_pathspecs_are_literal_file_names(repo: Repo) -> None:
    for name in ("*", ":(top)x.py", "a.py", "b.py"):
        (repo.path / name).write_text(name)
    repo.commit("Only the star", key="r-lit/T1", paths=["*"])
    assert sorted(repo.git("ls-tree", "--name-only", "HEAD").split()) == ["*", ".gitignore"]


def test_forged_vitco_trailers_in_a_message_are_dropped(repo: Repo) -> None:
    (repo.path / "a.py").write_text("a")
    repo.commit("Add a\n\nVitco-Key: r-x/T2\n  vitco-key : r-x/T3\nVitco-Other: y", key="r-x/T1")
    assert repo.find_commit("r-x/T1") is not None
    assert repo.find_commit("r-x/T2") is None and repo.find_commit("r-x/T3") is None
    assert repo.git("log", "-1", "--format=%B").strip() == "Add a\n\nVitco-Key: r-x/T1"


KILL_AT_COMMIT = """#!/bin/sh
# git, except that a commit kills the process that asked for it first (kill -9 mid-init)
for arg in "$@"; do
    if [ "$arg" = commit ]; then kill -9 "$PPID"; sleep 5; fi
done
exec {git} "$@"
"""


def test_a_process_killed_mid_init_leaves_no_repository_without_a_commit(tmp_path: Path) -> None:
    # the fleet test's takeover found a project's repository with no commit (its first worker
    # killed between git init and the first commit): the next run, seeing a repository, did
    # not make one, and failed at 'git rev-parse HEAD'
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "git"
    fake.write_text(KILL_AT_COMMIT.format(git=shutil.which("git")), encoding="utf-8")
    fake.chmod(0o755)
    path = tmp_path / "projects" / "todo"
    code = (
        "from pathlib import Path; from vitco.integrations.git.repo import Repo; "
        f"Repo.init(Path({str(path)!r}))"
    )
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    killed = subprocess.run([sys.executable, "-c", code], env=env, timeout=60, check=False)
    assert killed.returncode == -9
    assert not Repo(path).exists()  # all or nothing: the half-made one is not at its path
    repo = Repo.init(path)  # what the next run does, seeing no repository
    assert repo.git("log", "--format=%s") == "Start project"
    assert repo.head() == repo.head("main")


def test_init_completes_a_repository_a_killed_older_vitco_left_without_a_commit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "todo"
    path.mkdir()
    Repo(path).git("init", "-q", "-b", "main")
    repo = Repo.init(path)
    assert repo.git("log", "--format=%s") == "Start project"
