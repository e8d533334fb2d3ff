"""Compiling a workflow template into a LangGraph graph bound to one run's runtime.

Nodes become the step functions of ``ProjectSteps`` / ``TaskSteps``; a ``map`` becomes a
scheduler node that fans ready items out with ``Send`` to the compiled sub-flow (and comes back
until none is left); a ``gate`` pauses with ``interrupt``; an edge with ``max`` passes a counter
node, and once its count is spent the flow goes to a limit node instead of looping again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send, interrupt

from vitco.workflow.exceptions import TemplateInvalid
from vitco.workflow.project_steps import ProjectSteps
from vitco.workflow.runtime import Runtime
from vitco.workflow.state import RunState, TaskInput, TaskOutput, TaskState
from vitco.workflow.task_steps import TaskSteps
from vitco.workflow.template import END as END_NAME
from vitco.workflow.template import EdgeSpec, FlowSpec, GateSpec, NodeSpec, Problem, Template
from vitco.workflow.template import load as load_template
from vitco.workflow.validate import resolve_max, step_of, validate

Node = Callable[[Any], dict[str, Any]]
MAP_ITEM = "_each"  # suffix of the node that runs a map's flow for one item
LIMIT = "loop_limit"


def _faulty(rt: Runtime, name: str, fn: Node) -> Node:
    """A node that passes the fault points ``before:<name>`` and ``after:<name>``."""

    def node(state: Any) -> dict[str, Any]:
        rt.fault(f"before:{name}")
        update = fn(state)
        rt.fault(f"after:{name}")
        return update

    node.__name__ = name
    return node


def _counter(key: str) -> Node:
    def count(state: Any) -> dict[str, Any]:
        return {"loops": {key: state.get("loops", {}).get(key, 0) + 1}}

    return count


def with_gates(template: Template) -> Template:
    """The template with each gate spliced in as a ``gate`` node."""
    nodes = dict(template.nodes)
    edges = list(template.edges)
    for gate in template.gates:
        nodes, edges = _splice(gate, nodes, edges)
    return template.model_copy(update={"nodes": nodes, "edges": edges, "gates": []})


def _splice(
    gate: GateSpec, nodes: dict[str, NodeSpec], edges: list[EdgeSpec]
) -> tuple[dict[str, NodeSpec], list[EdgeSpec]]:
    target = gate.after or gate.before or ""
    name = f"approve_{'after' if gate.after else 'before'}_{target}"
    question = gate.question or (
        f"Approve the result of {target}?" if gate.after else f"Approve going on to {target}?"
    )
    nodes = {**nodes, name: NodeSpec(type="gate", question=question)}
    if gate.after:
        out = [e for e in edges if e.source == target]
        kept = [e for e in edges if e.source != target]
        moved = [e.model_copy(update={"source": name, "when": "approved"}) for e in out]
        if len(out) != 1:
            message = f"a gate after {target!r} needs that node to have exactly one way out"
            raise TemplateInvalid([Problem("(gates)", 0, message)])
        edges = [*kept, EdgeSpec(**{"from": target, "to": name}), *moved]
    else:
        edges = [e.model_copy(update={"to": name}) if e.to == target else e for e in edges]
        edges.append(EdgeSpec(**{"from": name, "to": target, "when": "approved"}))
    edges.append(EdgeSpec(**{"from": name, "to": END_NAME, "when": "rejected"}))
    return nodes, edges


class _Compiler:
    def __init__(self, rt: Runtime, template: Template) -> None:
        self.rt = rt
        self.template = template
        self.project = ProjectSteps(rt)
        self.tasks = TaskSteps(rt)

    def _fn(self, name: str, node: NodeSpec, task_level: bool) -> Node:
        if node.type == "gate":
            return self._gate(name, node.question or "Approve?")
        steps: Any = self.tasks if task_level else self.project
        return _faulty(self.rt, name, getattr(steps, step_of(node) or ""))

    def _gate(self, name: str, question: str) -> Node:
        def gate(state: Any) -> dict[str, Any]:
            self.rt.emit("gate", f"waiting for approval: {question}", step=name)
            answer = interrupt({"gate": name, "question": question})
            if isinstance(answer, dict) and answer.get("approved"):
                self.rt.emit("gate", f"approved: {question}", step=name)
                return {"outcome": "approved"}
            why = answer.get("reason") if isinstance(answer, dict) else None
            reason = f"rejected at {name}" + (f": {why}" if why else "")
            self.rt.emit("gate", reason, step=name)
            return {"outcome": "rejected", "status": "needs_attention", "reason": reason}

        return gate

    def _limit(self, task_level: bool) -> Node:
        def limit(state: Any) -> dict[str, Any]:
            reason = f"a loop reached its limit ({state.get('loops', {})})"
            if task_level:
                return self.tasks.give_up(cast(TaskState, {**state, "reason": reason}))
            return {"status": "needs_attention", "reason": reason}

        return limit

    def flow(self, flow: FlowSpec, graph: Any, task_level: bool) -> None:
        for name, node in flow.nodes.items():
            if node.type == "map":
                sub = self.template.flows[node.flow or ""]
                child: Any = StateGraph(TaskState, input_schema=TaskInput, output_schema=TaskOutput)
                self.flow(sub, child, task_level=True)
                graph.add_node(name, self.project.schedule)
                graph.add_node(f"{name}{MAP_ITEM}", child.compile())
                graph.add_edge(f"{name}{MAP_ITEM}", name)
            else:
                graph.add_node(name, self._fn(name, node, task_level))
        graph.add_node(LIMIT, self._limit(task_level))
        graph.add_edge(LIMIT, END)
        graph.add_edge(START, flow.start)
        for name, node in flow.nodes.items():
            self._edges(graph, name, node, [e for e in flow.edges if e.source == name])

    def _edges(self, graph: Any, name: str, node: NodeSpec, edges: list[EdgeSpec]) -> None:
        def target(edge: EdgeSpec) -> str:
            if edge.max is None:
                return END if edge.to == END_NAME else edge.to
            key = f"loop_{edge.source}_{edge.when or ''}_{edge.to}"
            graph.add_node(key, _counter(key))
            graph.add_edge(key, END if edge.to == END_NAME else edge.to)
            return key

        if node.type != "map" and len(edges) == 1 and edges[0].when is None:
            graph.add_edge(name, target(edges[0]))
            return
        routes = {e.when: (target(e), e) for e in edges}
        limits = {e.when: resolve_max(e.max, self.rt.settings) for e in edges if e.max is not None}
        destinations = sorted({t for t, _ in routes.values()} | {LIMIT})

        def route(state: Any) -> Any:
            if node.type == "map":
                sends = self.project.dispatch(state)
                if isinstance(sends, list):
                    return [Send(f"{name}{MAP_ITEM}", s) for s in sends]
                outcome = sends
            else:
                outcome = state.get("outcome")
            dest, _edge = routes[outcome]
            if outcome in limits and state.get("loops", {}).get(dest, 0) >= (limits[outcome] or 0):
                return LIMIT
            return dest

        if node.type == "map":
            destinations.append(f"{name}{MAP_ITEM}")
        graph.add_conditional_edges(name, route, destinations)


def compile_workflow(rt: Runtime, checkpointer: Any, name: str) -> Any:
    """The compiled graph of template ``name`` (a name or a file) for one run's runtime."""
    template, lines, file = load_template(name, rt.settings.home)
    problems = validate(template, lines, file)
    if problems:
        raise TemplateInvalid(problems)
    template = with_gates(template)
    compiler = _Compiler(rt, template)
    graph: Any = StateGraph(RunState)
    compiler.flow(template, graph, task_level=False)
    return graph.compile(checkpointer=checkpointer)
