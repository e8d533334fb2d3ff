"""What a run's pages show, worked out from what the API answers: where the run is in its
graph, how often each node ran, its model calls, and the same in plain words for a client.
Pure functions over the API's JSON (tested without a server)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vitco.workflow.compile import with_gates
from vitco.workflow.template import FlowSpec, Template

ACTIVE = frozenset({"queued", "running", "awaiting_approval"})
RESUMABLE = frozenset({"interrupted", "needs_attention", "failed", "budget_exceeded", "cancelled"})


@dataclass(frozen=True)
class Graphs:
    """A template with its gates spliced in, and the flow its map node runs (if any)."""

    main: Template
    map_node: str | None
    flow: FlowSpec | None

    @classmethod
    def of(cls, template: Template) -> Graphs:
        main = with_gates(template)
        for name, node in main.nodes.items():
            if node.type == "map" and node.flow in main.flows:
                return cls(main, name, main.flows[node.flow])
        return cls(main, None, None)

    def role_of(self, step: str | None) -> str | None:
        for flow in (self.main, self.flow):
            if flow is not None and step in flow.nodes:
                return flow.nodes[step].role
        return None


@dataclass
class Position:
    """Where a run is: the nodes it is at (main graph and task flow) and the visits."""

    main: set[str] = field(default_factory=set)
    flow: set[str] = field(default_factory=set)
    visits_main: Counter[str] = field(default_factory=Counter)
    visits_flow: Counter[str] = field(default_factory=Counter)
    step: str | None = None  # the node the latest event names


def position(graphs: Graphs, events: list[dict[str, Any]], status: str) -> Position:
    """Where the run is, from its events: each ``step`` event starts a node (a gate's
    ``waiting`` event starts the gate); a run that is not going is at no node."""
    at = Position()
    in_task: dict[str, str] = {}  # task -> the flow node it was last at
    flow_nodes = set(graphs.flow.nodes) if graphs.flow else set()
    for event in events:
        step = event.get("step")
        starts = event["kind"] == "step" or (
            event["kind"] == "gate" and str(event["message"]).startswith("waiting")
        )
        if not step:
            continue
        at.step = step
        if step in graphs.main.nodes:
            if starts:
                at.visits_main[step] += 1
        elif step in flow_nodes:
            if starts:
                at.visits_flow[step] += 1
            if event.get("task"):
                in_task[event["task"]] = step
    if status not in ACTIVE or at.step is None:
        return at
    if at.step in graphs.main.nodes:
        at.main.add(at.step)
    elif at.step in flow_nodes and graphs.map_node is not None:
        at.main.add(graphs.map_node)
        at.flow.update(in_task.values() if in_task else {at.step})
    return at


CALL_TEXT = ("call", "role", "tier", "model", "outcome")
CALL_NUMBERS = ("input_tokens", "output_tokens", "cost_usd", "latency_s")


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def model_calls(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The run's model calls (its ``model`` events' data), oldest first: each field the page
    shows, as text or a number, whatever an event's data holds (or lacks)."""
    calls = []
    for event in events:
        if event["kind"] != "model":
            continue
        raw = event.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        row: dict[str, Any] = {"seq": event["seq"], "task": event.get("task")}
        row |= {k: "" if data.get(k) is None else str(data[k]) for k in CALL_TEXT}
        row |= {k: _number(data.get(k)) for k in CALL_NUMBERS}
        calls.append(row)
    return calls


def timeline(
    events: list[dict[str, Any]], checkpoints: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Events and checkpoints in time order (a checkpoint after the events before it), each
    as ``{"type": "event"|"checkpoint", ...}``: the timeline a fork is picked on. A
    checkpoint has ``has_plan`` once the plan step started before it (its plan can be edited)."""
    rows = [{"type": "event", "at": str(e["ts"])} | e for e in events]
    rows += [{"type": "checkpoint", "at": str(c["time"])} | c for c in checkpoints]
    rows.sort(key=lambda r: (_instant(r["at"]), r["type"] == "checkpoint"))
    planned = False
    for row in rows:
        if row["type"] == "event" and row.get("step") == "plan" and row["kind"] == "step":
            planned = True
        elif row["type"] == "checkpoint":
            row["has_plan"] = planned
    return rows


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


STEPS_IN_WORDS = {
    "analyze": "reading your brief and writing down what to build",
    "check_spec": "checking that specification",
    "revise_spec": "improving the specification",
    "plan": "planning the work",
    "tasks": "building and testing your project",
    "implement": "building and testing your project",
    "review": "building and testing your project",
    "write_tests": "building and testing your project",
    "test": "building and testing your project",
    "commit": "building and testing your project",
    "integrate": "running every test together",
    "deploy": "putting your app online",
    "deliver": "sending you the delivery",
}

STATUS_IN_WORDS = {
    "created": "Your brief is in. The team starts on it soon.",
    "queued": "Your project is next in line.",
    "running": "The team is working on it.",
    "awaiting_approval": "The team waits for your approval before going on.",
    "delivered": "Delivered: your project is built, tested and online.",
    "cancelled": "Work on it was stopped.",
    "interrupted": "Work on it paused; it will go on from where it stopped.",
    "needs_attention": "The team needs a person to look at something before going on.",
    "budget_exceeded": "The budget is spent; work goes on once it is raised.",
    "failed": "Something went wrong; the team is looking into it.",
}


def in_words(status: str | None, step: str | None, tasks: list[dict[str, Any]]) -> str:
    """A client's sentence for where its project is."""
    if status is None:
        return "Your brief is in. The team will start work on it."
    sentence = STATUS_IN_WORDS.get(status, f"The project is {status.replace('_', ' ')}.")
    if status in ("running", "queued") and step in STEPS_IN_WORDS:
        sentence = f"The team is {STEPS_IN_WORDS[step]}."
        if step in ("tasks", "implement", "review", "write_tests", "test", "commit") and tasks:
            done = sum(1 for t in tasks if t["status"] == "done")
            sentence += f" {done} of {len(tasks)} parts done."
    return sentence
