"""Running a delivered project's tests in the real sandbox and reading the result back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vitco.sandbox import Limits, Sandbox
from vitco.toolchains.python import ensure_venv, run_tests

LIMITS = Limits(cpu_s=30, memory_mb=1024, wall_s=60.0)


def project(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def test_ensure_venv_makes_a_venv_once_in_the_sandbox(sandbox: Sandbox, root: Path) -> None:
    python = ensure_venv(sandbox, root)
    assert python == root / ".venv" / "bin" / "python"
    assert python.exists()
    assert root.stat().st_uid == 0 or os.geteuid() != 0  # the workspace dir stays root's
    if os.geteuid() == 0:  # made by the sandboxed command, not by the host
        assert (root / ".venv").stat().st_uid != 0
    stamp = python.parent.parent.stat().st_mtime_ns
    assert ensure_venv(sandbox, root) == python
    assert python.parent.parent.stat().st_mtime_ns == stamp
    assert [p.name for p in root.iterdir()] == [".venv"]  # no half-made leftovers


def test_all_passing(sandbox: Sandbox, root: Path) -> None:
    project(
        root,
        {
            "calc.py": "def add(a, b):\n    return a + b\n",
            "tests/test_calc.py": (
                "import pytest\nfrom calc import add\n\n"
                "def test_add():\n    assert add(1, 2) == 3\n\n"
                "def test_add_negative():\n    assert add(-1, -2) == -3\n\n"
                "@pytest.mark.skip(reason='later')\ndef test_later():\n    pass\n"
            ),
        },
    )

    report = run_tests(sandbox, root, wheels=root.parent / "wheels", limits=LIMITS)

    assert (report.passed, report.failed, report.errors, report.skipped) == (2, 0, 0, 1), report
    assert report.exit_code == 0
    assert report.limit_hit is None
    assert report.ok
    assert report.failures == []
    assert report.summary() == "2 passed, 0 failed, 0 errors"


def test_one_failing_test(sandbox: Sandbox, root: Path) -> None:
    project(
        root,
        {
            "tests/test_math.py": (
                "def test_ok():\n    assert 1 + 1 == 2\n\n"
                "def test_wrong():\n    total = 2 + 2\n    assert total == 5, 'total is off'\n"
            )
        },
    )

    report = run_tests(sandbox, root, wheels=root.parent / "wheels", limits=LIMITS)

    assert (report.passed, report.failed, report.errors) == (1, 1, 0), report
    assert not report.ok
    assert report.exit_code == 1
    [failure] = report.failures
    assert failure.test.endswith("test_wrong")
    assert "total is off" in failure.output
    assert "assert 4 == 5" in failure.output
    assert "test_wrong" in report.feedback()
    assert "total is off" in report.feedback()


def test_a_syntax_error_in_a_test_module(sandbox: Sandbox, root: Path) -> None:
    project(
        root,
        {
            "tests/test_good.py": "def test_good():\n    assert True\n",
            "tests/test_broken.py": "def test_broken(:\n    pass\n",
        },
    )

    report = run_tests(sandbox, root, wheels=root.parent / "wheels", limits=LIMITS)

    assert report.errors >= 1, report
    assert not report.ok
    assert "SyntaxError" in report.feedback()


def test_no_tests_at_all(sandbox: Sandbox, root: Path) -> None:
    project(root, {"app.py": "x = 1\n"})

    report = run_tests(sandbox, root, wheels=root.parent / "wheels", limits=LIMITS)

    assert report.passed == 0
    assert report.exit_code == 5  # pytest: no tests collected
    assert not report.ok
    assert "no tests ran" in report.feedback()


def test_a_test_that_outlives_the_wall_limit(sandbox: Sandbox, root: Path) -> None:
    project(
        root,
        {"tests/test_slow.py": "import time\n\ndef test_slow():\n    time.sleep(60)\n"},
    )

    report = run_tests(sandbox, root, wheels=root.parent / "wheels", limits=Limits(wall_s=3))

    assert report.limit_hit == "wall", report
    assert not report.ok
    assert "stopped by the wall limit" in report.summary()
