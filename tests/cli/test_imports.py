"""What a CLI call imports before it does anything.

Every ``vitco`` call builds the whole command tree, so the CLI modules import heavy things
(the workflow engine and LangGraph, the store and Alembic, provider SDKs) only inside the
commands that use them. Each test runs vitco in a fresh interpreter, as a user would, and
reads that process's ``sys.modules`` afterwards: a module-level import that creeps back in
shows up here by name, whatever the machine's speed.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vitco.config import Settings
from vitco.store import Store, open_database

# Never needed to build the commands or print help (seconds of CPU between them).
HEAVY = (
    "langgraph",
    "langchain_core",
    "langsmith",
    "alembic",
    "sqlalchemy",
    "openai",
    "anthropic",
    "vitco.workflow.runner",
    "vitco.store",
    "vitco.llm.resolve",
)
# Never needed to list projects: the store (SQLAlchemy, Alembic) is, the workflow engine is not.
NOT_FOR_STATUS = (
    "langgraph",
    "langchain_core",
    "langsmith",
    "openai",
    "anthropic",
    "vitco.workflow.runner",
    "vitco.workflow.graph",
    "vitco.llm.resolve",
)
COMMANDS = {
    "run", "demo", "status", "report", "resume", "history", "fork", "approve", "gc",
    "workflow", "worker", "sandbox", "doctor", "models", "costs", "budget",
}  # fmt: skip

# Runs the CLI in this process (as the console script does), then prints the modules it loaded.
PROBE = """
import json, sys
from vitco.cli.app import app
code = 0
try:
    app(sys.argv[1:], prog_name="vitco")
except SystemExit as exc:
    code = exc.code or 0
print("\\n" + json.dumps({"exit": code, "modules": sorted(sys.modules)}))
"""


def vitco(*args: str) -> tuple[int, str, set[str]]:
    """Exit code, output and loaded modules of ``vitco ARGS`` run in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    output, _, last = proc.stdout.rstrip("\n").rpartition("\n")
    probe = json.loads(last)
    return probe["exit"], output, set(probe["modules"])


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` (packages or modules) are among ``modules``."""
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


def test_importing_the_cli_imports_nothing_heavy() -> None:
    code = "import json, sys, vitco.cli.app; print(json.dumps(list(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules = set(json.loads(proc.stdout))
    assert "vitco.cli.status" in modules  # the probe saw the command modules
    assert loaded(modules, HEAVY) == []


@pytest.mark.parametrize(
    "args",
    [("--help",), ("status", "--help"), ("run", "--help"), ("models", "list", "--help")],
    ids=" ".join,
)
def test_help_imports_nothing_heavy(args: tuple[str, ...]) -> None:
    code, output, modules = vitco(*args)
    assert code == 0, output
    assert "Usage: vitco" in output
    assert loaded(modules, HEAVY) == []


def test_help_lists_every_command() -> None:
    code, output, _ = vitco("--help")
    assert code == 0, output
    listed = {line.split()[1] for line in output.splitlines() if line.startswith("│ ")}
    assert listed >= COMMANDS, COMMANDS - listed


def test_status_help_describes_status() -> None:
    code, output, _ = vitco("status", "--help")
    assert code == 0, output
    assert "List projects and their latest run" in output
    assert "--json" in output


def test_status_opens_the_store_without_the_workflow_engine() -> None:
    settings = Settings()
    settings.ensure_dirs()
    store = Store(open_database(settings.resolved_database_url))
    project = store.create_project("imports", str(settings.projects_dir / "imports"))
    code, output, modules = vitco("status", "--json")
    assert code == 0, output
    assert [p["project_id"] for p in json.loads(output)["projects"]] == [project.id]
    assert "vitco.store.repo" in modules  # it did open the store
    assert loaded(modules, NOT_FOR_STATUS) == []


def test_the_default_workflow_is_the_engines() -> None:
    from vitco.cli.run import DEFAULT_WORKFLOW
    from vitco.workflow.graph import DEFAULT_WORKFLOW as ENGINE_DEFAULT

    assert DEFAULT_WORKFLOW == ENGINE_DEFAULT
