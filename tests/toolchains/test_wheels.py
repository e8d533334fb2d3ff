"""A project's requirements are installed into its venv, in the sandbox, once per content."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.workflow.hostile import make_wheel
from vitco.integrations.git.repo import Repo
from vitco.sandbox import Sandbox
from vitco.toolchains.exceptions import BadRequirements
from vitco.toolchains.python import ensure_venv, install_requirements, run_tests
from vitco.toolchains.wheels import parse_requirements


def test_requirements_are_installed_once_and_importable_in_tests(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    repo = Repo.init(tmp_path / "proj")
    wheels = tmp_path / "wheels"
    make_wheel(repo.path / "vendor")
    (repo.path / "requirements.txt").write_text("./vendor/tinydep-1.0-py3-none-any.whl\n")
    (repo.path / "tests").mkdir()
    (repo.path / "tests" / "test_dep.py").write_text(
        "import tinydep\n\ndef test_it():\n    assert tinydep.answer() == 42\n"
    )
    report = run_tests(sandbox, repo.path, wheels=wheels)
    assert report.ok, report.output
    python = ensure_venv(sandbox, repo.path)
    # same file: nothing to do
    assert install_requirements(sandbox, repo.path, python, wheels=wheels) is False
    (repo.path / "requirements.txt").write_text("./vendor/tinydep-1.0-py3-none-any.whl\n\n# v2\n")
    assert install_requirements(sandbox, repo.path, python, wheels=wheels) is False  # same set
    make_wheel(repo.path / "vendor", version="2.0")
    (repo.path / "requirements.txt").write_text("./vendor/tinydep-2.0-py3-none-any.whl\n")
    assert install_requirements(sandbox, repo.path, python, wheels=wheels) is True
    assert not (repo.path / "tinydep").exists()  # installed into the venv, not the workspace
    [filled, _other] = sorted(wheels.iterdir())  # one wheel directory per set of requirements
    assert filled.stat().st_uid == os.geteuid()  # filled by the host, read-only to the project


def test_a_missing_wheel_is_reported_as_a_test_error(tmp_path: Path, sandbox: Sandbox) -> None:
    repo = Repo.init(tmp_path / "proj")
    (repo.path / "requirements.txt").write_text("./vendor/missing-1.0-py3-none-any.whl\n")
    (repo.path / "tests").mkdir()
    (repo.path / "tests" / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    report = run_tests(sandbox, repo.path, wheels=tmp_path / "wheels")
    assert not report.ok and report.errors == 1
    assert "requirements.txt line 1" in report.output
    assert "no such regular file" in report.output


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("--index-url http://127.0.0.1:6379/simple", "options are not allowed"),
        ("-r /etc/shadow", "options are not allowed"),
        ("-e .", "options are not allowed"),
        ("--extra-index-url=http://evil.example/", "options are not allowed"),
        ("evil @ https://evil.example/evil-1.0-py3-none-any.whl", "direct URLs"),
        ("git+https://evil.example/repo.git", "direct URLs"),
        ("./src", "not a requirement"),
        ("../outside-1.0-py3-none-any.whl", "relative path inside the project"),
        ("/etc/evil-1.0-py3-none-any.whl", "relative path inside the project"),
        ("setup.py", "looks like a file name"),
        ("pkg>=1 \\", "continuations"),
    ],
)
def test_requirement_lines_that_reach_beyond_a_package_name_are_refused(
    line: str, why: str, tmp_path: Path
) -> None:
    with pytest.raises(BadRequirements) as info:
        parse_requirements(f"# deps\nhttpx>=0.20\n{line}\n", tmp_path)
    assert info.value.line == 3
    assert why in info.value.reason


def test_plain_requirements_markers_and_comments_parse(tmp_path: Path) -> None:
    reqs = parse_requirements(
        "fastapi>=0.100  # the web framework\n\nuvicorn[standard]==0.30.*\n"
        'tomli; python_version < "3.11"\n',
        tmp_path,
    )
    assert [str(r) for r in reqs.named] == [
        "fastapi>=0.100",
        "uvicorn[standard]==0.30.*",
        'tomli; python_version < "3.11"',
    ]
    assert reqs.wheels == ()


def test_requirements_vitco_already_has_are_neither_fetched_nor_installed(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # any fetch would fail: there is none
    repo = Repo.init(tmp_path / "proj")
    (repo.path / "requirements.txt").write_text("httpx>=0.20\npydantic>=2\n")
    (repo.path / "tests").mkdir()
    (repo.path / "tests" / "test_ok.py").write_text(
        "import httpx, pydantic\n\ndef test_ok():\n    assert httpx and pydantic\n"
    )
    report = run_tests(sandbox, repo.path, wheels=tmp_path / "wheels")
    assert report.ok, report.output
    assert not (tmp_path / "wheels").exists()  # nothing fetched
    assert not list(repo.path.glob(".venv/*.sha256"))  # nothing installed


def test_a_package_without_a_binary_wheel_is_refused_with_the_reason(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    index.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    repo = Repo.init(tmp_path / "proj")
    (repo.path / "requirements.txt").write_text("vitco-no-such-package==1.0\n")
    (repo.path / "tests").mkdir()
    (repo.path / "tests" / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    report = run_tests(sandbox, repo.path, wheels=tmp_path / "wheels")
    assert not report.ok
    assert "fetching the project's dependencies failed" in report.output
    assert "binary wheels only" in report.output
    assert list((tmp_path / "wheels").iterdir()) == []  # nothing half-filled is kept
