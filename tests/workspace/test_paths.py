"""Path safety: a changeset path never leaves the workspace or touches vitco's folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitco.workspace.exceptions import UnsafePath
from vitco.workspace.paths import safe_path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / ".git" / "hooks").mkdir(parents=True)
    (ws / "pkg").mkdir()
    return ws


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/etc/passwd", "absolute"),
        ("../outside.py", "'..'"),
        ("pkg/../../outside.py", "'..'"),
        ("pkg/..", "'..'"),
        ("pkg/a\x00.py", "NUL"),
        ("", "empty"),
        ("pkg\\evil.py", "'/' separators"),
        ("..\\evil.py", "'/' separators"),
        (".git/hooks/pre-commit", ".git component belongs to git"),
        ("./.git/config", ".git component belongs to git"),
        (".git", ".git component belongs to git"),
        ("todo/.git/config", ".git component belongs to git"),  # a nested repository
        ("a/.GIT./hooks/x", ".git component belongs to git"),  # folded by some filesystems
        (".venv/bin/python", ".venv/ belongs to vitco"),
        (".vitco/junit.xml", ".vitco/ belongs to vitco"),
        (".", "workspace root"),
    ],
)
def test_unsafe_paths_are_rejected(root: Path, path: str, reason: str) -> None:
    with pytest.raises(UnsafePath) as info:
        safe_path(root, path)
    assert info.value.path == path
    assert reason in info.value.reason


@pytest.mark.parametrize(
    "path", ["app.py", "pkg/module.py", "src/deep/er/still/fine.py", "./pkg/x.py", "a/.gitignore"]
)
def test_normal_paths_resolve_inside_the_workspace(root: Path, path: str) -> None:
    target = safe_path(root, path)
    assert target == root.resolve() / path.removeprefix("./")


def test_a_symlinked_directory_pointing_outside_is_rejected(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "pkg" / "out").symlink_to(outside)

    with pytest.raises(UnsafePath) as info:
        safe_path(root, "pkg/out/new.py")
    assert "pkg/out is a symlink out of the workspace" in info.value.reason


def test_a_symlinked_file_pointing_outside_is_rejected(root: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("s", encoding="utf-8")
    (root / "notes.txt").symlink_to(tmp_path / "secret.txt")

    with pytest.raises(UnsafePath) as info:
        safe_path(root, "notes.txt")
    assert "symlink out of the workspace" in info.value.reason


def test_a_dangling_symlink_pointing_outside_is_rejected(root: Path, tmp_path: Path) -> None:
    (root / "later.py").symlink_to(tmp_path / "does-not-exist-yet.py")
    with pytest.raises(UnsafePath):
        safe_path(root, "later.py")


def test_a_symlink_inside_the_workspace_is_accepted(root: Path) -> None:
    (root / "alias").symlink_to(root / "pkg")
    assert safe_path(root, "alias/module.py") == root.resolve() / "alias" / "module.py"


@pytest.mark.parametrize("path", ["hooks/pre-commit", "gitdir", "gitdir/config"])
def test_an_inside_symlink_into_git_is_rejected(root: Path, path: str) -> None:
    # a sandboxed test can leave such links behind; a later changeset must not write through them
    (root / "hooks").symlink_to(root / ".git" / "hooks")
    (root / "gitdir").symlink_to(".git")

    with pytest.raises(UnsafePath) as info:
        safe_path(root, path)
    assert "belongs to" in info.value.reason


def test_a_symlink_to_the_root_itself_is_rejected(root: Path) -> None:
    (root / "here").symlink_to(".")
    with pytest.raises(UnsafePath):
        safe_path(root, "here")
    assert safe_path(root, "here/app.py") == root.resolve() / "here" / "app.py"


def test_a_root_given_through_a_symlink_works(root: Path, tmp_path: Path) -> None:
    (tmp_path / "link-to-ws").symlink_to(root)
    assert safe_path(tmp_path / "link-to-ws", "pkg/a.py") == root.resolve() / "pkg" / "a.py"
