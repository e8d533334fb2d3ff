"""The markers that pick a fast subset: ``postgres`` and ``redis`` are set by conftest on the
tests that use those servers (by fixture or by parameter), so ``-m`` selects them exactly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("tests/store/test_store.py", "tests/llm/test_cache_backends.py", "tests/cli/test_db.py")


def collected(expression: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-m", expression, *FILES],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [line for line in proc.stdout.splitlines() if "::" in line]


def test_postgres_and_redis_tests_are_marked_by_fixture_and_parameter() -> None:
    postgres, redis, neither = (
        collected("postgres"),
        collected("redis"),
        collected("not postgres and not redis"),
    )
    assert postgres and redis and neither
    # a parameter naming the server: database_url[postgres], backend[store-postgres]
    assert "tests/store/test_store.py::test_add_tasks_is_idempotent[postgres]" in postgres
    assert all("postgres" in test for test in postgres if "[" in test)
    assert all("redis" in test for test in redis)
    # by fixture: test_db's postgres test takes postgres_url (and says so by hand as well)
    assert any(test.startswith("tests/cli/test_db.py::") for test in postgres)
    assert not any("postgres" in test or "redis" in test for test in neither)
    assert "tests/store/test_store.py::test_add_tasks_is_idempotent[sqlite]" in neither
