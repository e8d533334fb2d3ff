"""The host side never executes, or reads through a symlink, what sandboxed code left behind."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from vitco.integrations.git.repo import Repo
from vitco.sandbox import Sandbox
from vitco.toolchains.python import ensure_venv, run_tests
from vitco.workspace.exceptions import UnsafePath

PASSING = "def test_ok():\n    assert True\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    repo = Repo.init(tmp_path / "proj")
    (repo.path / "tests").mkdir()
    (repo.path / "tests" / "test_ok.py").write_text(PASSING)
    return repo.path


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "host-secret.txt"
    path.write_text(f"TOP-SECRET-{uuid.uuid4().hex}")
    return path


def test_a_replaced_venv_python_is_never_run_on_the_host(
    project: Path, sandbox: Sandbox, tmp_path: Path
) -> None:
    python = ensure_venv(sandbox, project)
    marker = Path("/tmp") / f"vitco-host-ran-{uuid.uuid4().hex}"
    python.unlink()
    python.write_text(f"#!/bin/sh\ntouch {marker}\nexit 0\n")
    python.chmod(0o755)
    (project / ".venv" / ".vitco-host-plugins").unlink(missing_ok=True)
    report = run_tests(sandbox, project, wheels=project.parent / "wheels")
    assert not marker.exists(), "the host executed the workspace's python"
    assert not report.ok  # the fake interpreter ran no tests (inside the sandbox)


def test_a_junit_report_symlinked_to_a_host_file_is_not_read(
    project: Path, sandbox: Sandbox, secret: Path
) -> None:
    # a test that swaps the report for a link to a host secret once pytest has written it
    (project / "tests" / "conftest.py").write_text(
        "import os\n\n"
        "def pytest_unconfigure(config):\n"
        "    path = config.option.xmlpath\n"
        "    if path:\n"
        "        os.replace(path, path + '.bak')\n"
        f"        os.symlink({str(secret)!r}, path)\n"
    )
    report = run_tests(sandbox, project, wheels=project.parent / "wheels")
    assert secret.read_text() not in report.model_dump_json()
    assert not report.ok


def test_repository_files_for_prompts_skip_symlinks_out(project: Path, secret: Path) -> None:
    os.symlink(secret, project / "notes.txt")
    files = Repo(project).read_files()
    assert "notes.txt" not in files
    assert secret.read_text() not in "".join(files.values())
    assert "tests/test_ok.py" in files


def test_a_venv_replaced_by_a_symlink_is_refused(
    project: Path, tmp_path: Path, sandbox: Sandbox
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, project / ".venv")
    with pytest.raises(UnsafePath, match=r"\.venv"):
        ensure_venv(sandbox, project)
    assert list(elsewhere.iterdir()) == []


def test_commit_keys_match_literally(project: Path) -> None:
    repo = Repo(project)
    first = repo.commit("first", key="r-a.b/T1")
    assert repo.find_commit("r-a.b/T1") == first
    assert repo.find_commit("r-axb/T1") is None  # '.' is not a wildcard
    assert repo.find_commit("r-a.b/T") is None  # nor is the key a prefix match
    (project / "x.txt").write_text("x")
    assert repo.commit("second", key="r-a.b/T10", paths=["x.txt"]) != first
