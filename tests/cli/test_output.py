"""Output people can use: piped output is never wrapped (byte for byte what a program
expects), tables never cut an id, ids are taken as unique prefixes with a clear error when a
prefix is ambiguous."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vitco.cli import status as status_module
from vitco.cli.app import app
from vitco.cli.ids import abbreviate
from vitco.cli.output import PipeConsole
from vitco.config import Settings
from vitco.store import AmbiguousId, NotFound, open_store
from vitco.workflow.render import mermaid
from vitco.workflow.template import load

runner = CliRunner()


def test_piped_mermaid_is_byte_for_byte_the_chart(settings: Settings) -> None:
    template, _, _ = load("deliver-project", settings.home)
    expected = mermaid(template) + "\n"
    assert max(len(line) for line in expected.splitlines()) > 40  # would wrap at 40 columns
    result = runner.invoke(app, ["workflow", "show", "deliver-project"], env={"COLUMNS": "40"})
    assert result.exit_code == 0 and result.stdout == expected
    piped = subprocess.run(  # a real pipe, with a narrow terminal width in the environment
        [sys.executable, "-m", "vitco.cli", "workflow", "show", "deliver-project"],
        env=os.environ | {"COLUMNS": "40", "VITCO_HOME": str(settings.home)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert piped.stdout == expected


def test_ids_are_taken_by_unique_prefix_and_an_ambiguous_one_names_the_candidates(
    settings: Settings, tmp_path: Path
) -> None:
    store = open_store(settings)
    project = store.create_project("P", str(tmp_path), project_id="p-aaa111")
    brief = store.create_brief(project.id, "b.md", "# P")
    for run_id in ("r-abc123", "r-abc456", "r-def789"):
        store.create_run(project.id, brief.id, "m", "deliver-project", run_id=run_id)
    assert store.resolve_id("run", "r-abc1") == "r-abc123"
    assert store.resolve_id("run", "def") == "r-def789"  # without the kind's letter
    assert store.resolve_id("project", "aaa") == "p-aaa111"
    with pytest.raises(AmbiguousId) as info:
        store.resolve_id("run", "r-abc")
    assert info.value.candidates == ["r-abc123", "r-abc456"]
    with pytest.raises(NotFound):
        store.resolve_id("run", "r-abc_")  # LIKE's wildcards are plain characters
    env = {"VITCO_HOME": str(settings.home)}
    result = runner.invoke(app, ["report", "r-abc", "--json"], env=env)
    data = json.loads(result.stdout)
    assert result.exit_code == 1
    assert data["error"] == "'r-abc' is the start of more than one run: r-abc123, r-abc456"
    assert data["hint"] == "give more characters of the id: r-abc123, r-abc456"
    human = runner.invoke(app, ["logs", "r-abc"], env=env)
    assert human.exit_code == 1 and "r-abc123, r-abc456" in human.stderr
    assert runner.invoke(app, ["report", "aaa1", "--json"], env=env).exit_code == 0  # project


def test_tables_on_a_narrow_terminal_keep_ids_whole(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(settings)
    name = "A project whose name is long enough to need several lines of its column"
    project = store.create_project(name, str(tmp_path))
    brief = store.create_brief(project.id, "b.md", "# P")
    run = store.create_run(project.id, brief.id, "m", "deliver-project")
    buffer = io.StringIO()
    terminal = PipeConsole(file=buffer, force_terminal=True, width=90, color_system=None)
    monkeypatch.setattr(status_module, "console", terminal)
    result = runner.invoke(app, ["status"], env={"VITCO_HOME": str(settings.home)})
    assert result.exit_code == 0
    lines = buffer.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 90  # the terminal's width is kept...
    assert any(project.id in line and run.id in line for line in lines)  # ...ids are not cut
    assert name not in buffer.getvalue()  # the name column took the wrapping


def test_abbreviation_is_the_shortest_unique_length() -> None:
    ids = ["1f1f139a-5cf3-61c5", "1f1f139a-5cf7-69e0", "1f1f139a-5d24-6baf"]
    assert abbreviate(ids) == 13
    assert abbreviate(["abcdefghij"]) == 8
