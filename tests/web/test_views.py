"""What the pages draw and say, from API answers, without a server: the workflow graph's
layout (loops set aside, the gate spliced in, the current node), its escaping of hostile
names, where a run is from its events, the plain words a client reads, and the charts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from vitco.web import charts, graph
from vitco.web.insight import all_premium, read_metrics
from vitco.web.portal import read_mail
from vitco.web.runview import Graphs, in_words, model_calls, position, timeline
from vitco.workflow.template import END, load, parse

SVG = "{http://www.w3.org/2000/svg}"
CAREFUL = "name: careful\nextends: deliver-project\ngates:\n  - {after: plan, question: 'OK?'}\n"


def _event(
    seq: int, kind: str, step: str | None = None, task: str | None = None, **more: Any
) -> dict[str, Any]:
    return {"seq": seq, "kind": kind, "step": step, "task": task, "message": "", "ts": "x"} | more


def test_the_layout_sets_loops_aside_and_layers_the_rest() -> None:
    template, _, _ = load("deliver-project")
    graphs = Graphs.of(template)
    placed = graph.layout(graphs.main)
    loops = {(graphs.main.edges[i].source, graphs.main.edges[i].to) for i in placed.loops}
    assert loops == {("revise_spec", "check_spec")}
    for i, edge in enumerate(graphs.main.edges):  # every other edge goes down a layer at least
        if i not in placed.loops:
            assert placed.layer[edge.to] > placed.layer[edge.source], edge
    assert placed.layer[END] == max(placed.layer.values())
    assert graphs.flow is not None and graphs.map_node == "tasks"
    flow_loops = {graphs.flow.edges[i].to for i in graph.layout(graphs.flow).loops}
    assert flow_loops == {"implement"}  # review, test and commit go back to implement


def test_the_svg_marks_the_current_node_counts_visits_and_dashes_loops(tmp_path: Any) -> None:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "careful.yaml").write_text(CAREFUL)
    template, _, _ = load("careful", tmp_path)
    graphs = Graphs.of(template)
    assert "approve_after_plan" in graphs.main.nodes
    drawn = graph.svg(
        graphs.main, title="t", prefix="p", current={"approve_after_plan"}, visits={"plan": 2}
    )
    root = ET.fromstring(str(drawn))
    nodes = {g.get("data-node"): g.get("class", "") for g in root.iter(f"{SVG}g")}
    assert "current" in nodes["approve_after_plan"] and "current" not in nodes["plan"]
    assert "visited" in nodes["plan"] and "visited" not in nodes["analyze"]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "×2" in texts and "approve_after_plan (now)" in texts
    assert any("≤ spec_checks" in (t or "") for t in texts)  # the loop's limit is on it
    assert [p for p in root.iter(f"{SVG}path") if "loop" in p.get("class", "")]
    assert root.get("role") == "img" and root.find(f"{SVG}title") is not None


def test_hostile_names_in_a_template_are_escaped() -> None:
    hostile = '<script>alert(1)</script>"'
    template, _ = parse(
        f"name: x\nstart: a\nnodes:\n  a: {{type: tool, step: '{hostile}'}}\n"
        f"edges:\n  - {{from: a, to: end, when: '{hostile}'}}\n",
        "x.yaml",
    )
    drawn = str(graph.svg(template, title=hostile, prefix="x"))
    assert "<script>" not in drawn
    ET.fromstring(drawn)  # still well-formed: nothing broke out of its attribute or text
    chart = str(charts.bars(hostile, [charts.Bar(hostile, 1.0, 2.0)], prefix="c", limit=3.0))
    assert "<script>" not in chart
    ET.fromstring(chart)


def test_where_a_run_is_from_its_events() -> None:
    template, _, _ = load("deliver-project")
    graphs = Graphs.of(template)
    events = [
        _event(1, "run"),
        _event(2, "step", "analyze"),
        _event(3, "model", "analyze", data={"tier": "standard"}),
        _event(4, "step", "plan"),
        _event(5, "step", "implement", "T1"),
        _event(6, "step", "implement", "T2"),
        _event(7, "step", "review", "T1"),
        _event(8, "step", "implement", "T1"),  # back from review: a second attempt
    ]
    at = position(graphs, events, "running")
    assert at.main == {"tasks"} and at.flow == {"implement"}
    assert at.visits_flow["implement"] == 3 and at.visits_main["analyze"] == 1
    assert graphs.role_of(at.step) == "developer"
    assert position(graphs, events, "delivered").main == set()  # a finished run is nowhere
    assert [c["tier"] for c in model_calls(events)] == ["standard"]


def test_the_timeline_puts_checkpoints_among_events_and_knows_when_the_plan_exists() -> None:
    events = [
        _event(1, "step", "analyze", ts="2026-01-01T10:00:00Z"),
        _event(2, "step", "plan", ts="2026-01-01T10:00:02Z"),
    ]
    points = [
        {"step": 1, "time": "2026-01-01T10:00:01+00:00"},
        {"step": 2, "time": "2026-01-01T10:00:03+00:00"},
    ]
    rows = timeline(events, points)
    assert [r.get("seq", r.get("step")) for r in rows] == [1, 1, 2, 2]
    assert [r["has_plan"] for r in rows if r["type"] == "checkpoint"] == [False, True]


def test_plain_words_for_a_client() -> None:
    tasks = [{"status": "done"}, {"status": "in_progress"}]
    assert in_words(None, None, []).startswith("Your brief is in")
    assert in_words("running", "implement", tasks).endswith("1 of 2 parts done.")
    assert "approval" in in_words("awaiting_approval", "approve_after_plan", [])
    assert in_words("delivered", None, tasks).startswith("Delivered")
    assert in_words("strange_state", None, []) == "The project is strange state."


def test_all_premium_prices_every_token_at_the_premium_rate() -> None:
    tiers = [
        {"key": "premium", "input_tokens": 100, "output_tokens": 100, "usd": 2.0},
        {"key": "efficient", "input_tokens": 800, "output_tokens": 0, "usd": 0.1},
    ]
    assert all_premium(tiers) == 10.0  # 1000 tokens at 0.01 USD
    assert all_premium(tiers[1:]) is None


def test_metrics_and_mail_are_read_as_data() -> None:
    text = (
        '# TYPE vitco_breaker_state gauge\nvitco_breaker_state{provider="openai"} 2.0\n'
        "# TYPE vitco_queue_depth gauge\nvitco_queue_depth 3.0\n"
        "# TYPE vitco_runs_in_progress gauge\nvitco_runs_in_progress 2.0\n"
        "# TYPE vitco_queue_oldest_lease_seconds gauge\nvitco_queue_oldest_lease_seconds 4.5\n"
        '# TYPE vitco_runs gauge\nvitco_runs{status="running"} 1.0\n'
    )
    assert read_metrics(text) == {
        "breakers": {"openai": "open"},
        "queue_depth": 3,
        "in_progress": 2,
        "oldest_lease_s": 4.5,
        "runs": {"running": 1},
    }
    mail = read_mail(
        b"Subject: Done <b>\r\nFrom: team@vitco\r\nContent-Type: text/plain\r\n\r\nHello <i>\r\n"
    )
    assert mail["subject"] == "Done <b>" and mail["text"].strip() == "Hello <i>"
