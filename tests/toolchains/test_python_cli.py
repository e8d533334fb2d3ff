"""The python-cli delivery: install the project, then check each invocation honestly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from vitco.integrations.deploy import BuildFailed
from vitco.integrations.git.repo import Repo
from vitco.sandbox import Limits, Sandbox
from vitco.toolchains import CommandPlan, Tools, get_toolchain

PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "shout"
version = "0.1.0"

[project.scripts]
shout = "shout:main"
"""
SHOUT = """import sys


def main():
    text = " ".join(sys.argv[1:]) or sys.stdin.read()
    if not text.strip():
        print("nothing to shout", file=sys.stderr)
        return 2
    print(text.upper())
    return 0
"""


@pytest.fixture
def tools(sandbox: Sandbox, tmp_path: Path) -> Iterator[Tools]:
    with httpx.Client() as http:
        yield Tools(
            sandbox=sandbox,
            http=http,
            caches=tmp_path / "cache",
            out=tmp_path / "out",
            limits=Limits(cpu_s=60, wall_s=120),
        )


def test_each_invocation_is_checked_for_its_exit_status_and_output(
    tools: Tools, tmp_path: Path
) -> None:
    repo = Repo.init(tmp_path / "shout")
    (repo.path / "pyproject.toml").write_text(PYPROJECT)
    (repo.path / "shout.py").write_text(SHOUT)
    plan = CommandPlan.model_validate(
        {
            "checks": [
                {"argv": ["shout", "hi", "there"], "expect_stdout": "HI THERE"},
                {"argv": ["shout"], "stdin": "quiet\n", "expect_stdout": "QUIET"},
                {"argv": ["shout"], "expect_exit": 2},
                {"argv": ["shout", "x"], "expect_stdout": "lower"},  # wrong on purpose
            ]
        }
    )
    shipment, process = get_toolchain("python-cli").ship(tools, repo.path, plan)
    assert process is None
    assert [c.ok for c in shipment.checks] == [True, True, True, False]
    assert "stdout lacks 'lower'" in shipment.checks[3].detail
    assert not shipment.ok
    assert shipment.summary == "installed shout; 3 of 4 invocations passed"


def test_a_project_pip_cannot_install_is_a_build_failure(tools: Tools, tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "broken")
    (repo.path / "pyproject.toml").write_text("[project]\nname = \n")  # not TOML
    plan = CommandPlan.model_validate({"checks": [{"argv": ["broken"]}]})
    with pytest.raises(BuildFailed) as info:
        get_toolchain("python-cli").ship(tools, repo.path, plan)
    assert "pip" in info.value.command
