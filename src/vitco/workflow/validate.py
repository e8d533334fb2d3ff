"""Checking a template against the steps vitco has: every problem, with file and line.

The steps, their levels, outcomes and roles come from the registry (``steps``), where each step
is declared once; the collections a map may iterate likewise.
"""

from __future__ import annotations

from typing import Any

from vitco.agents.role import role_names
from vitco.config import Settings
from vitco.workflow.steps import Level, collections, step_of_role, steps
from vitco.workflow.template import END, FlowSpec, Lines, Problem, Template

GATE_OUTCOMES = ("approved", "rejected")


def step_of(node: Any) -> str | None:
    """The step a node runs: its ``step``, or the one step its agent's role performs."""
    if node.step:
        return str(node.step)
    if node.type == "agent" and node.role:
        found = step_of_role(node.role)
        return found.name if found else None
    return None


def outcomes_of(node: Any) -> tuple[str, ...]:
    if node.type == "map":
        found = collections().get(node.over or "")
        return found.outcomes if found else ()
    if node.type == "gate":
        return GATE_OUTCOMES
    info = steps().get(step_of(node) or "")
    return info.outcomes if info else ()


def resolve_max(value: int | str, settings: Settings | None = None) -> int | None:
    """An edge's ``max``: a number, or the name of an integer setting (its value in
    ``settings``; without settings, its default: a template is checked before any run)."""
    if isinstance(value, int):
        return value if value >= 1 else None
    if settings is not None:
        current = getattr(settings, value, None)
    else:
        field = Settings.model_fields.get(value)
        current = field.default if field is not None else None
    return current if isinstance(current, int) and not isinstance(current, bool) else None


class _Checker:
    def __init__(self, template: Template, lines: Lines, file: str) -> None:
        self.template = template
        self.lines = lines
        self.file = file
        self.problems: list[Problem] = []

    def add(self, path: tuple[Any, ...], message: str) -> None:
        line = 1
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                line = self.lines[path[:end]]
                break
        self.problems.append(Problem(self.file, line, message))

    def flow(self, flow: FlowSpec, level: Level, prefix: tuple[Any, ...]) -> None:
        names = set(flow.nodes)
        if not flow.start:
            self.add((*prefix, "start"), "no start node (start: NAME)")
        elif flow.start not in names:
            self.add((*prefix, "start"), f"start {flow.start!r} is not a node")
        for name, node in flow.nodes.items():
            self.node(name, node, level, (*prefix, "nodes", name))
        outgoing: dict[str, list[int]] = {}
        for i, edge in enumerate(flow.edges):
            where = (*prefix, "edges", i)
            if edge.source not in names:
                self.add(where, f"edge from {edge.source!r}, which is not a node")
                continue
            if edge.to != END and edge.to not in names:
                self.add(where, f"edge to nowhere: {edge.to!r} is not a node (or 'end')")
            outgoing.setdefault(edge.source, []).append(i)
            outcomes = outcomes_of(flow.nodes[edge.source])
            if edge.when is not None and edge.when not in outcomes:
                have = ", ".join(outcomes) or "none: it has one way out"
                self.add(where, f"{edge.source!r} has no outcome {edge.when!r} (outcomes: {have})")
            if edge.max is not None and resolve_max(edge.max) is None:
                self.add(where, f"max {edge.max!r} is not a positive number or integer setting")
            if edge.exhausted is not None:
                if edge.max is None:
                    self.add(where, "exhausted: names where a bounded edge goes; add a max")
                elif edge.exhausted != END and edge.exhausted not in names:
                    self.add(where, f"exhausted: {edge.exhausted!r} is not a node (or 'end')")
        for name, node in flow.nodes.items():
            edges = [flow.edges[i] for i in outgoing.get(name, [])]
            outcomes = outcomes_of(node)
            where = (*prefix, "nodes", name)
            if not edges:
                self.add(where, f"node {name!r} has no edge out (add one, e.g. to end)")
            elif outcomes:
                covered = {e.when for e in edges}
                for outcome in outcomes:
                    if outcome not in covered:
                        self.add(where, f"outcome {outcome!r} of node {name!r} has no edge")
            elif len(edges) > 1:
                self.add(where, f"node {name!r} has {len(edges)} edges out but no outcomes")
        self.cycles(flow, prefix)
        self.reachable(flow, prefix)

    def node(self, name: str, node: Any, level: Level, where: tuple[Any, ...]) -> None:
        if name == END:
            self.add(where, "'end' is reserved for the end of the flow")
        if node.type == "agent":
            if node.role not in role_names():
                self.add(where, f"unknown role {node.role!r} (roles: {', '.join(role_names())})")
                return
        elif node.type == "tool":
            if not node.step:
                self.add(where, "a tool node needs a step")
                return
        elif node.type == "map":
            if level != "project":
                self.add(where, "a map runs at the project level, not inside a task flow")
            known = collections()
            if node.over not in known:
                self.add(where, f"map over {node.over!r}: can map over {', '.join(known)}")
            if node.flow not in self.template.flows:
                self.add(where, f"map runs flow {node.flow!r}, which is not under flows:")
            return
        elif node.type == "gate":
            if level != "project":
                self.add(where, "gates pause the project flow, not a task flow")
            return
        step = step_of(node)
        registry = steps()
        info = registry.get(step or "")
        if info is None:
            self.add(where, f"unknown step {step!r} (steps: {', '.join(registry)})")
        elif info.level != level:
            self.add(where, f"step {step!r} runs in a {info.level} flow, not a {level} flow")
        elif node.type == "tool" and info.role is not None:
            self.add(where, f"step {step!r} is an agent's (role {info.role}); use type: agent")
        elif node.type == "agent" and info.role != node.role:
            self.add(where, f"step {step!r} is not performed by role {node.role!r}")

    def cycles(self, flow: FlowSpec, prefix: tuple[Any, ...]) -> None:
        """Every cycle must pass an edge with ``max``: look for cycles among the others."""
        graph: dict[str, list[tuple[str, int]]] = {}
        for i, e in enumerate(flow.edges):
            if e.max is None and e.to in flow.nodes:
                graph.setdefault(e.source, []).append((e.to, i))
            if e.exhausted in flow.nodes:  # taken once the passes are spent: counts nothing
                graph.setdefault(e.source, []).append((e.exhausted, i))
        state: dict[str, int] = {}  # 1: on the current path, 2: done

        def visit(node: str, path: list[str]) -> None:
            state[node] = 1
            path.append(node)
            for nxt, i in graph.get(node, []):
                if state.get(nxt) == 1:
                    loop = [*path[path.index(nxt) :], nxt]
                    self.add(
                        (*prefix, "edges", i),
                        f"unbounded loop {' -> '.join(loop)}: give one of its edges a max",
                    )
                elif nxt not in state:
                    visit(nxt, path)
            path.pop()
            state[node] = 2

        for name in flow.nodes:
            if name not in state:
                visit(name, [])

    def reachable(self, flow: FlowSpec, prefix: tuple[Any, ...]) -> None:
        seen, todo = set(), [flow.start]
        while todo:
            node = todo.pop()
            if node in seen or node not in flow.nodes:
                continue
            seen.add(node)
            todo.extend(e.to for e in flow.edges if e.source == node)
            todo.extend(e.exhausted for e in flow.edges if e.source == node and e.exhausted)
        for name in flow.nodes:
            if name not in seen and flow.start in flow.nodes:
                self.add((*prefix, "nodes", name), f"node {name!r} cannot be reached from start")


def validate(template: Template, lines: Lines, file: str) -> list[Problem]:
    """Every problem of a loaded template (an empty list when it is sound)."""
    checker = _Checker(template, lines, file)
    checker.flow(template, "project", ())
    used = {n.flow for n in template.nodes.values() if n.type == "map"}
    for name, flow in template.flows.items():
        if name not in used:
            checker.add(("flows", name), f"flow {name!r} is never run by a map")
        checker.flow(flow, "task", ("flows", name))
    for i, gate in enumerate(template.gates):
        target = gate.after or gate.before
        if (gate.after is None) == (gate.before is None):
            checker.add(("gates", i), "a gate needs exactly one of after: NODE or before: NODE")
        elif target not in template.nodes:
            checker.add(("gates", i), f"gate on {target!r}, which is not a node")
    return checker.problems
