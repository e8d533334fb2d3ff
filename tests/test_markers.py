"""The markers that pick a fast subset: ``postgres`` and ``redis`` are set by conftest on the
tests that use those servers (by fixture or by parameter), so ``-m`` selects them exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("tests/store/test_store.py", "tests/llm/test_cache_backends.py", "tests/cli/test_db.py")
# a plugin that prints each collected test's markers once collection (and conftest) is done
PLUGIN = """
import json

def pytest_collection_finish(session):
    marks = {i.nodeid: sorted({m.name for m in i.iter_markers()}) for i in session.items}
    print("MARKS " + json.dumps(marks))
"""


def test_postgres_and_redis_tests_are_marked_by_fixture_and_parameter(tmp_path: Path) -> None:
    (tmp_path / "print_marks.py").write_text(PLUGIN, encoding="utf-8")
    # only the plugins the suite's configuration needs (timeout, for pyproject's ``timeout``):
    # the others installed (schemathesis, hypothesis, langsmith, anyio, xdist) mark nothing
    # and took 6 of the 8 CPU seconds of this collection
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-p", "pytest_timeout", "-p", "print_marks", *FILES],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
        env=os.environ | {"PYTHONPATH": str(tmp_path), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith("MARKS "))
    marks: dict[str, list[str]] = json.loads(line.removeprefix("MARKS "))
    postgres = {test for test, names in marks.items() if "postgres" in names}
    redis = {test for test, names in marks.items() if "redis" in names}
    assert postgres and redis and len(marks) > len(postgres | redis)
    # by a parameter naming the server: database_url[postgres], backend[store-postgres]
    assert "tests/store/test_store.py::test_add_tasks_is_idempotent[postgres]" in postgres
    assert "tests/store/test_store.py::test_add_tasks_is_idempotent[sqlite]" not in postgres
    assert all("postgres" in test for test in postgres if "[" in test)
    assert all("redis" in test for test in redis)
    # by fixture: test_db's PostgreSQL test takes postgres_url (which uses postgres_server)
    assert "tests/cli/test_db.py::test_current_upgrade_current[postgres]" in postgres
    unmarked = set(marks) - postgres - redis
    assert not any("postgres" in test or "redis" in test for test in unmarked)
