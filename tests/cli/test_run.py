"""`vitco run`, `status` and `report`: errors are clear, exit code 1, JSON when asked."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from vitco.cli.app import app

runner = CliRunner()


def test_run_without_a_model_says_how_to_configure_one(tmp_path: Path) -> None:
    brief = tmp_path / "b.md"
    brief.write_text("# Something\n\nBuild it.\n", encoding="utf-8")
    result = runner.invoke(app, ["run", str(brief)])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "no model is configured" in text
    for hint in ("--model", "OPENAI_API_KEY", "VITCO_MODEL"):
        assert hint in text


def test_run_errors_are_json_with_json(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(tmp_path / "missing.md"), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["status"] == "error" and "no such file" in data["error"]


def test_run_with_a_broken_cassette_names_the_line(tmp_path: Path) -> None:
    brief = tmp_path / "b.md"
    brief.write_text("# Something\n\nBuild it.\n", encoding="utf-8")
    cassette = tmp_path / "c.jsonl"
    cassette.write_text('{"key": {"role": "analyst", "step": "analyze"}}\nnot json\n')
    result = runner.invoke(app, ["run", str(brief), "--model", f"replay:{cassette}", "--json"])
    assert result.exit_code == 1
    assert "line 1" in json.loads(result.stdout)["error"]


def test_status_and_report_on_an_empty_data_dir() -> None:
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"projects": []}
    missing = runner.invoke(app, ["report", "r-doesnotexist", "--json"])
    assert missing.exit_code == 1
    assert "no run 'r-doesnotexist'" in json.loads(missing.stdout)["error"]


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "run", "status", "report", "sandbox", "doctor"):
        assert command in result.output


def test_a_workflow_that_changes_a_repository_is_refused_without_repo(tmp_path: Path) -> None:
    brief = tmp_path / "b.md"
    brief.write_text("---\nclient: A <a@b.c>\n---\n# Feature\n\nAdd it.\n", encoding="utf-8")
    for workflow in ("add-feature", "fix-bug"):
        result = runner.invoke(app, ["run", str(brief), "-w", workflow, "--json"])
        assert result.exit_code == 1
        error = json.loads(result.stdout)
        assert error["code"] == "RepoRequired"
        assert f"the {workflow} workflow changes an existing repository" in error["error"]
        assert f"--workflow {workflow} --repo PATH" in error["hint"]
    human = runner.invoke(app, ["run", str(brief), "--workflow", "add-feature"])
    assert human.exit_code == 1 and "--repo PATH" in " ".join(human.stderr.split())
    status = runner.invoke(app, ["status", "--json"])
    assert json.loads(status.stdout) == {"projects": []}  # refused before anything was stored
