"""add-feature and fix-bug work on a copy of an existing repository, never on the original."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.workflow.scripted import (
    APPROVE,
    SOUND,
    SPEC,
    calc_tests,
    changeset,
    plan,
    script,
    write_brief,
)
from vitco.bootstrap import start_run
from vitco.config import Settings
from vitco.integrations.git.repo import Repo
from vitco.sandbox import Sandbox
from vitco.workflow.exceptions import BadRepo

pytestmark = pytest.mark.slow
BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"


@pytest.fixture
def client_repo(tmp_path: Path) -> Path:
    path = tmp_path / "client"
    path.mkdir()
    (path / "calc.py").write_text(BUGGY)
    git = ["git", "-c", "user.name=Client", "-c", "user.email=c@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "trunk"], cwd=path, check=True)
    subprocess.run([*git, "add", "."], cwd=path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "Client's calculator"], cwd=path, check=True)
    return path


def test_fix_bug_fixes_a_copy_and_deploys_nothing(
    settings: Settings, sandbox: Sandbox, tmp_path: Path, client_repo: Path
) -> None:
    answers = {
        "analyst/analyze#1": SPEC,
        "reviewer/check_spec#1": SOUND,
        "manager/plan#1": plan("T1"),
        "developer/implement/T1#1": changeset({"calc.py": FIXED}, "Fix add"),
        "reviewer/review/T1#1": APPROVE,
        "qa/write_tests/T1#1": calc_tests(),
    }
    model = script(answers)
    report = start_run(
        settings,
        write_brief(tmp_path),
        model=model,
        sandbox=sandbox,
        workflow="fix-bug",
        repo=client_repo,
    ).report
    assert report["status"] == "delivered", report["reason"]
    assert report["workflow"] == "fix-bug"
    assert report["url"] is None and report["commits"] == 1
    analyst = model.requests[0].messages[-1].content
    assert "## Existing code" in analyst and "return a - b" in analyst
    manager = next(r for r in model.requests if r.key.role == "manager")
    assert "calc.py" in manager.messages[-1].content  # the manager saw the files
    assert not any(r.key.role == "devops" for r in model.requests)
    log = Repo(Path(report["repo"])).git("log", "--format=%s", "main").splitlines()
    assert log == ["Fix add", "Client's calculator"]
    assert (client_repo / "calc.py").read_text() == BUGGY  # the original is untouched
    assert Repo(client_repo).git("log", "--format=%s").splitlines() == ["Client's calculator"]


def test_a_repo_that_is_not_git_is_refused(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(BadRepo, match="not a git repository"):
        start_run(settings, write_brief(tmp_path), model=script({}), repo=tmp_path)
