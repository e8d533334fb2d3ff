"""The conventions every command shares: ``--version``, ``-h``, shell completion, ``-v/-q``,
one meaning per short flag, and usage errors as the one JSON error object under ``--json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import TypeAdapter
from rich.console import Console
from typer.testing import CliRunner, Result

from vitco import __version__
from vitco.cli.app import app
from vitco.cli.output import ErrorJSON, set_verbosity
from vitco.cli.progress import RunProgress
from vitco.store.models import Event

VITCO = [str(Path(sys.executable).with_name("vitco"))]  # the installed command a shell runs


def vitco(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="vitco", env=env)


def commands(
    group: Any = None, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command of the tree with its path (``("sandbox", "run")``), groups included."""
    group = group if group is not None else typer.main.get_command(app)
    yield path, group
    for name, command in getattr(group, "commands", {}).items():
        yield from commands(command, (*path, name))


LEAVES = [path for path, command in commands() if path and not hasattr(command, "commands")]


def test_version() -> None:
    result = vitco("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"vitco {__version__} (Python 3.")


@pytest.mark.parametrize("path", [(), ("models",), *LEAVES], ids=lambda p: " ".join(p) or "vitco")
def test_dash_h_is_help_everywhere(path: tuple[str, ...]) -> None:
    short, long = vitco(*path, "-h"), vitco(*path, "--help")
    assert short.exit_code == 0, short.output
    assert short.stdout == long.stdout
    assert f"Usage: vitco {' '.join(path)}".rstrip() in short.stdout


def test_every_short_flag_has_one_meaning() -> None:
    meanings: dict[str, set[str]] = {}
    for path, command in commands():
        for param in command.params:
            names = param.opts + param.secondary_opts
            longs = [o for o in names if o.startswith("--")]
            for short in (o for o in names if o.startswith("-") and not o.startswith("--")):
                meanings.setdefault(short, set()).update(longs or [f"{' '.join(path)}?"])
    assert {s: m for s, m in meanings.items() if len(m) > 1} == {}
    assert "-h" not in meanings  # help, on every command (test_dash_h_is_help_everywhere)
    assert meanings["-m"] == {"--model"} and meanings["-v"] == {"--verbose"}
    assert meanings["-w"] == {"--workflow"} and meanings["-C"] == {"--workspace"}


def test_shell_completion_completes_commands() -> None:
    # in a process of its own, as a shell runs it: in this one, what other tests left in
    # click's and typer's module state decided the answer (it failed depending on the order)
    script = subprocess.run(
        [*VITCO, "--show-completion", "bash"], capture_output=True, text=True, timeout=60
    )
    assert script.returncode == 0 and "_VITCO_COMPLETE=complete_bash" in script.stdout
    env = os.environ | {
        "_VITCO_COMPLETE": "complete_bash", "COMP_WORDS": "vitco wor", "COMP_CWORD": "1"
    }  # fmt: skip
    completed = subprocess.run(VITCO, env=env, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert set(completed.stdout.split()) == {"workflow", "worker"}


def test_verbose_shows_vitco_log_records_on_stderr(tmp_path: Path) -> None:
    # a fresh data dir: opening the store migrates it, which vitco logs (at INFO)
    plain = vitco("status", env={"VITCO_HOME": str(tmp_path / "a")})
    verbose = vitco("-v", "status", env={"VITCO_HOME": str(tmp_path / "b")})
    assert plain.exit_code == 0 and verbose.exit_code == 0
    assert "vitco.store" not in plain.stderr
    assert "INFO vitco.store: database schema upgraded" in verbose.stderr


def test_quiet_and_verbose_exclude_each_other() -> None:
    result = vitco("-q", "-v", "status", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"].startswith("Invalid value for -v/-q")


def test_quiet_silences_progress() -> None:
    event = Event(run_id="r-1", ts=datetime.now(UTC), kind="step", message="analyst writes")
    shown = []
    for level in (0, -1):
        set_verbosity(level)
        try:
            console = Console(record=True, width=100)
            RunProgress(console)(event)
            shown.append(console.export_text())
        finally:
            set_verbosity(0)
    assert "analyst writes" in shown[0] and shown[1] == ""


USAGE_ERRORS = [
    (("run", "--json"), "Missing argument 'brief'.", "vitco run"),
    (("run", "brief.md", "--bogus", "--json"), "No such option: --bogus", "vitco run"),
    (("costs", "--by", "colour", "--json"), "Invalid value for '--by'", "vitco costs"),
    (("budget", "p-x", "--set", "-1", "--json"), "Invalid value for '--set'", "vitco budget"),
    (("nope", "--json"), "No such command 'nope'.", "vitco"),
    (("--bogus", "status", "--json"), "No such option: --bogus", "vitco"),
    (("sandbox", "run", "--limit", "x", "--json", "--", "true"), "--limit", "vitco sandbox run"),
]


@pytest.mark.parametrize(("args", "message", "command"), USAGE_ERRORS, ids=lambda a: str(a))
def test_usage_errors_under_json_are_the_error_object(
    args: tuple[str, ...], message: str, command: str
) -> None:
    result = vitco(*args)
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert set(payload) == set(ErrorJSON.__annotations__)
    TypeAdapter(ErrorJSON).validate_python(payload, strict=True)
    assert payload["status"] == "error" and payload["code"] == "usage"
    assert message in payload["error"]
    assert payload["hint"].startswith(f"Usage: {command} ")
    assert f"Try '{command} -h' for help." in payload["hint"]


def test_usage_errors_without_json_stay_text() -> None:
    result = vitco("run", "--bogus")
    assert result.exit_code == 2 and result.stdout == ""
    assert "No such option: --bogus" in result.stderr


def test_json_after_double_dash_belongs_to_the_command() -> None:
    result = vitco("sandbox", "run", "--limit", "x", "--", "echo", "--json")
    assert result.exit_code == 2 and result.stdout == ""


def test_other_errors_use_the_same_schema(tmp_path: Path) -> None:
    result = vitco("report", "r-nope", "--json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    TypeAdapter(ErrorJSON).validate_python(payload, strict=True)
    assert set(payload) == set(ErrorJSON.__annotations__)
    assert payload["code"] == "NotFound" and "r-nope" in payload["error"]


def test_verbose_shows_where_a_known_error_was_raised() -> None:
    plain, verbose = vitco("report", "r-nope"), vitco("-v", "report", "r-nope")
    assert plain.exit_code == verbose.exit_code == 1
    assert "Traceback" not in plain.stderr and "no run 'r-nope'" in plain.stderr
    assert "Traceback" in verbose.stderr and "NotFound" in verbose.stderr
