"""Workflow templates: the built-in ones are sound; every kind of error comes with its line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vitco.cli.app import app
from vitco.workflow.exceptions import TemplateInvalid
from vitco.workflow.render import dot, mermaid, png_renderer
from vitco.workflow.template import load, parse, template_files
from vitco.workflow.validate import validate

runner = CliRunner()

GOOD = """\
name: tiny
start: analyze
nodes:
  analyze: {type: agent, role: analyst}
  plan: {type: agent, role: manager}
  tasks: {type: map, over: ready_tasks, flow: task}
  integrate: {type: tool, step: integrate}
edges:
  - {from: analyze, to: plan}
  - {from: plan, to: tasks}
  - {from: tasks, to: integrate, when: all_done}
  - {from: tasks, to: end, when: blocked}
  - {from: integrate, to: end, when: passed}
  - {from: integrate, to: end, when: failed}
flows:
  task:
    start: implement
    nodes:
      implement: {type: agent, role: developer}
      test: {type: tool, step: test}
      commit: {type: tool, step: commit}
      give_up: {type: tool, step: give_up}
    edges:
      - {from: implement, to: test, when: done}
      - {from: implement, to: test, when: disputed}
      - {from: test, to: commit, when: pass}
      - {from: test, to: implement, when: retry, max: max_attempts}
      - {from: test, to: give_up, when: give_up}
      - {from: commit, to: end, when: merged}
      - {from: commit, to: implement, when: retry, max: 2}
      - {from: commit, to: give_up, when: give_up}
      - {from: give_up, to: end}
"""


def problems_of(text: str) -> list[tuple[int, str]]:
    try:
        template, lines = parse(text, "t.yaml")
    except TemplateInvalid as exc:
        return [(p.line, p.message) for p in exc.problems]
    return [(p.line, p.message) for p in validate(template, lines, "t.yaml")]


def edit(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


def test_the_built_in_templates_are_valid() -> None:
    names = set(template_files(None))
    assert {"deliver-project", "add-feature", "fix-bug"} <= names
    for name in names:
        template, lines, file = load(name)
        assert validate(template, lines, file) == [], name


def test_a_good_template_has_no_problems() -> None:
    assert problems_of(GOOD) == []


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (
            "integrate: {type: tool, step: integrate}",
            "integrate: {type: robot, step: integrate}",
            7,
            "Input should be 'agent', 'tool', 'map' or 'gate'",
        ),
        (
            "- {from: analyze, to: plan}",
            "- {from: analyze, to: plna}",
            9,
            "edge to nowhere: 'plna'",
        ),
        ("- {from: analyze, to: plan}", "- {from: anlyze, to: plan}", 9, "edge from 'anlyze'"),
        (
            "when: retry, max: max_attempts}",
            "when: retry}",
            27,
            "unbounded loop implement -> test -> implement",
        ),
        ("role: analyst}", "role: astrologer}", 4, "unknown role 'astrologer'"),
        ("step: integrate}", "step: integrat}", 7, "unknown step 'integrat'"),
        (
            "test: {type: tool, step: test}",
            "test: {type: tool, step: deliver}",
            20,
            "runs in a project flow",
        ),
        (
            "  - {from: tasks, to: end, when: blocked}\n",
            "",
            6,
            "outcome 'blocked' of node 'tasks' has no edge",
        ),
        ("when: passed}", "when: green}", 13, "'integrate' has no outcome 'green'"),
        ("      - {from: give_up, to: end}\n", "", 22, "node 'give_up' has no edge out"),
        ("start: analyze", "start: analyse", 2, "start 'analyse' is not a node"),
        ("flow: task}", "flow: tsk}", 6, "map runs flow 'tsk'"),
        ("max: 2}", "max: max_nonsense}", 30, "max 'max_nonsense' is not"),
        (
            "plan: {type: agent, role: manager}",
            "plan: {type: agent, role: manager}\n  plan: {type: tool}",
            6,
            "duplicate key 'plan'",
        ),
        ("nodes:\n  analyze", "nodes:\n  analyze: [unclosed\n  x", 5, "not valid YAML"),
    ],
)
def test_each_error_is_reported_with_its_line(old: str, new: str, line: int, message: str) -> None:
    found = problems_of(edit(old, new))
    assert any(message in m and n == line for n, m in found), found


def test_an_unreachable_node_and_a_gate_on_nothing() -> None:
    text = edit(
        "  integrate: {type: tool, step: integrate}\n",
        "  integrate: {type: tool, step: integrate}\n  lonely: {type: tool, step: deliver}\n",
    )
    text += "gates:\n  - {after: planning}\n"
    found = problems_of(text)
    assert any("'lonely' cannot be reached" in m and n == 8 for n, m in found), found
    assert any("gate on 'planning'" in m for _, m in found), found


def test_validate_command_prints_file_line_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(edit("- {from: analyze, to: plan}", "- {from: analyze, to: plna}"))
    result = runner.invoke(app, ["workflow", "validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:9: edge to nowhere" in " ".join(result.output.split())
    as_json = runner.invoke(app, ["workflow", "validate", str(bad), "--json"])
    data = json.loads(as_json.stdout)
    assert data["valid"] is False and data["problems"][0]["line"] == 9
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    assert runner.invoke(app, ["workflow", "validate", str(good)]).exit_code == 0


def test_user_templates_load_from_the_data_dir(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "workflows").mkdir(parents=True)
    (home / "workflows" / "tiny.yaml").write_text(GOOD)
    assert "tiny" in template_files(home)
    result = runner.invoke(app, ["workflow", "list", "--json"])
    assert result.exit_code == 0
    names = {w["name"] for w in json.loads(result.stdout)["workflows"]}
    assert {"tiny", "deliver-project"} <= names


def test_show_renders_mermaid_and_a_png_when_graphviz_is_there(tmp_path: Path) -> None:
    template, _, _ = load("deliver-project")
    text = mermaid(template)
    assert text.startswith("flowchart TD")
    assert "review -- retry / max max_attempts --> implement" in text.replace("task_", "")
    assert '"tasks" -> "task.start"' in dot(template)
    out = tmp_path / "dp.png"
    result = runner.invoke(app, ["workflow", "show", "deliver-project", "--png", str(out)])
    if png_renderer() is None:
        assert result.exit_code == 1 and "install Graphviz" in " ".join(result.output.split())
    else:
        assert result.exit_code == 0, result.output
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_extending_template_adds_gates_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "workflows").mkdir(parents=True)
    (home / "workflows" / "careful.yaml").write_text(
        textwrap.dedent(
            """\
            name: careful
            extends: deliver-project
            gates:
              - {after: plan, question: 'Is this plan right?'}
              - {before: deploy}
            """
        )
    )
    template, lines, file = load("careful", home)
    assert validate(template, lines, file) == []
    assert [g.after or g.before for g in template.gates] == ["plan", "deploy"]
    assert "approve_after_plan" in mermaid(template)
