"""Compiling a workflow template into a LangGraph graph, once per process.

Nodes run the registered steps (``steps``); a ``map`` becomes a scheduler node that fans the
items of its collection out with ``Send`` to the compiled sub-flow (and comes back until none
is left); a ``gate`` pauses with ``interrupt``; a bounded loop passes a counter per target, and
once the target's passes are spent the flow goes to the edge's ``exhausted`` node, or to a
limit node that gives up, instead of looping again (``max: 3`` on the edges into
``implement``: at most three attempts in all).

The graph holds no run: each invocation hands in its ``Runtime`` as LangGraph's runtime
context (``graph.invoke(..., context=rt)``), which reaches every node, sub-flow and route. So a
template is compiled once per process and serves every run (a service runs many at once), and
inspecting a run's history needs no runtime at all.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from langgraph.config import get_config
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import get_runtime
from langgraph.types import Send, interrupt

from vitco.observability.metrics import STEP_DURATION
from vitco.workflow import executors, stop
from vitco.workflow.exceptions import TemplateInvalid
from vitco.workflow.runtime import Runtime
from vitco.workflow.state import RunState, TaskInput, TaskOutput, TaskState
from vitco.workflow.steps import Step, collections, run_step, steps
from vitco.workflow.template import END as END_NAME
from vitco.workflow.template import EdgeSpec, FlowSpec, GateSpec, NodeSpec, Problem, Template, find
from vitco.workflow.template import load as load_template
from vitco.workflow.validate import resolve_max, step_of, validate

logger = logging.getLogger("vitco.workflow")

Node = Callable[[Any], dict[str, Any]]
MAP_ITEM = "_each"  # suffix of the node that runs a map's flow for one item
LIMIT = "loop_limit"


def _rt() -> Runtime:
    """The run this invocation is for (LangGraph's runtime context)."""
    return get_runtime(Runtime).context


def _execution() -> str | None:
    """This node's execution key: its LangGraph task namespace in this thread (run), hashed.

    LangGraph derives a task's id from the checkpoint it starts from, so a step run again from
    the same checkpoint (after a crash between its writes and its checkpoint) has the same key
    and its reads leave out what the unfinished run wrote (``vitco.store.artifacts``)."""
    try:
        config = get_config()
    except RuntimeError:  # called outside a graph (a step run on its own)
        return None
    namespace = config.get("metadata", {}).get("langgraph_checkpoint_ns")
    thread = config.get("configurable", {}).get("thread_id")
    if not namespace or thread is None:
        return None
    return hashlib.sha256(f"{thread}\0{namespace}".encode()).hexdigest()[:32]


def _node(name: str, defn: Step) -> Node:
    """A node running ``defn``, passing the fault points ``before:<name>``/``after:<name>``;
    how long each step took is the ``vitco_step_duration_seconds{node}`` histogram and a
    log line."""

    def node(state: Any) -> dict[str, Any]:
        rt = _rt()
        rt.fault(f"before:{name}")
        stop.check_boundary()  # a worker draining lets running steps finish, starts no more
        started = time.perf_counter()
        try:
            # the step's events, artifacts and task rows: one commit
            with rt.store.step(_execution()):
                update = run_step(defn, rt, state)
                stop.check()  # stopped meanwhile: what it saw was cut short, do not record it
        finally:
            took = time.perf_counter() - started
            STEP_DURATION.labels(name).observe(took)
        logger.info("step %s done", name, extra={"node": name, "seconds": round(took, 3)})
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
    def __init__(self, template: Template) -> None:
        self.template = template
        self.steps = steps()
        self.collections = collections()

    def _fn(self, name: str, node: NodeSpec) -> Node:
        if node.type == "gate":
            return self._gate(name, node.question or "Approve?")
        return _node(name, self.steps[step_of(node) or ""])

    @staticmethod
    def _gate(name: str, question: str) -> Node:
        def gate(state: Any) -> dict[str, Any]:
            rt = _rt()
            rt.emit("gate", f"waiting for approval: {question}", step=name)
            answer = interrupt({"gate": name, "question": question})
            if isinstance(answer, dict) and answer.get("approved"):
                rt.emit("gate", f"approved: {question}", step=name)
                rt.fault(f"after:{name}")  # the answer taken, its checkpoint not yet written
                return {"outcome": "approved"}
            why = answer.get("reason") if isinstance(answer, dict) else None
            reason = f"rejected at {name}" + (f": {why}" if why else "")
            rt.emit("gate", reason, step=name)
            rt.fault(f"after:{name}")
            return {"outcome": "rejected", "status": "needs_attention", "reason": reason}

        return gate

    def _limit(self, task_level: bool) -> Node:
        give_up = self.steps["give_up"]

        def limit(state: Any) -> dict[str, Any]:
            if task_level:  # the loops of a task are its attempts
                made = int(state.get("attempt", 1))
                last = state.get("reason") or "a loop reached its limit"
                why = f"{made} attempts exhausted; last {last}"
                return give_up.run(_rt(), cast(TaskState, {**state, "reason": why}))
            reason = f"a loop reached its limit ({state.get('loops', {})})"
            return {"status": "needs_attention", "reason": reason}

        return limit

    def flow(self, flow: FlowSpec, graph: Any, task_level: bool) -> None:
        for name, node in flow.nodes.items():
            if node.type == "map":
                sub = self.template.flows[node.flow or ""]
                child: Any = StateGraph(
                    TaskState, Runtime, input_schema=TaskInput, output_schema=TaskOutput
                )
                self.flow(sub, child, task_level=True)
                graph.add_node(name, _schedule)
                graph.add_node(f"{name}{MAP_ITEM}", child.compile())
                graph.add_edge(f"{name}{MAP_ITEM}", name)
            else:
                graph.add_node(name, self._fn(name, node))
        graph.add_node(LIMIT, self._limit(task_level))
        graph.add_edge(LIMIT, END)
        graph.add_edge(START, flow.start)
        for name, node in flow.nodes.items():
            self._edges(graph, name, node, [e for e in flow.edges if e.source == name])

    def _edges(self, graph: Any, name: str, node: NodeSpec, edges: list[EdgeSpec]) -> None:
        def target(edge: EdgeSpec) -> str:
            if edge.max is None:
                return END if edge.to == END_NAME else edge.to
            key = f"loop_{edge.to}"  # one count per target: every loop into it shares it
            if key not in graph.nodes:
                graph.add_node(key, _counter(key))
                graph.add_edge(key, END if edge.to == END_NAME else edge.to)
            return key

        if node.type != "map" and len(edges) == 1 and edges[0].when is None:
            graph.add_edge(name, target(edges[0]))
            return
        routes = {e.when: target(e) for e in edges}
        bounded = {e.when: e.max for e in edges if e.max is not None}
        spent = {
            e.when: END if e.exhausted == END_NAME else (e.exhausted or LIMIT)
            for e in edges
            if e.max is not None
        }
        destinations = sorted(set(routes.values()) | set(spent.values()) | {LIMIT})
        items = self.collections[node.over].items if node.type == "map" and node.over else None

        def route(state: Any) -> Any:
            if items is not None:
                ready = items(_rt(), state)
                if isinstance(ready, list):
                    return [Send(f"{name}{MAP_ITEM}", item) for item in ready]
                outcome = ready
            else:
                outcome = state.get("outcome")
            dest = routes[outcome]
            if outcome in bounded:
                passes = resolve_max(bounded[outcome], _rt().settings) or 0
                if state.get("loops", {}).get(dest, 0) + 1 >= passes:
                    return spent[outcome]
            return dest

        if node.type == "map":
            destinations.append(f"{name}{MAP_ITEM}")
        graph.add_conditional_edges(name, route, destinations)


def _schedule(state: Any) -> dict[str, Any]:
    """A map's own node: nothing to do; its route sends the ready items."""
    return {}


_compiled: dict[tuple[str, int, str], Any] = {}
_compiled_lock = threading.Lock()
_bound: OrderedDict[tuple[tuple[str, int, str], int], tuple[Any, Any, Any]] = OrderedDict()
"""Compiled graphs with a checkpointer attached, by template version and checkpointer (each
with the checkpointer, held so that its id stays its own, and the graph it is a copy of);
the least recently used beyond ``BOUND_KEEP`` are dropped. A process's runs share one saver
per database, and attaching it copies the graph (~0.2 ms of a trivial run's CPU a run)."""
BOUND_KEEP = 16


@functools.lru_cache(maxsize=256)
def _resolved(path: Path) -> str:
    """A template file's real path, looked up once per path (a ``realpath`` is a system call
    per folder of it, at every run); the file's version is its ``st_mtime_ns``, read at
    every run."""
    return str(path.resolve())


def compile_workflow(name: str, home: Path | None, checkpointer: Any = None) -> Any:
    """The compiled graph of template ``name`` (a name or a file), compiled once per process
    per template file (and recompiled when the file changes); ``checkpointer`` is attached to
    a cheap copy. Invoke it with ``context=`` the run's ``Runtime``."""
    executors.install()  # its invocations reuse their threads (vitco.workflow.executors)
    path = find(name, home)
    key = (_resolved(path), path.stat().st_mtime_ns, str(home))
    with _compiled_lock:
        graph = _compiled.get(key)
    if graph is None:
        template, lines, file = load_template(name, home)
        problems = validate(template, lines, file)
        if problems:
            raise TemplateInvalid(problems)
        template = with_gates(template)
        builder: Any = StateGraph(RunState, Runtime)
        _Compiler(template).flow(template, builder, task_level=False)
        graph = builder.compile()
        with _compiled_lock:
            _compiled[key] = graph
    if not checkpointer:
        return graph
    with _compiled_lock:
        bound = _bound.get((key, id(checkpointer)))
        if bound is not None and bound[2] is graph:
            _bound.move_to_end((key, id(checkpointer)))
            return bound[0]
    copy = graph.copy(update={"checkpointer": checkpointer})
    with _compiled_lock:
        _bound[(key, id(checkpointer))] = (copy, checkpointer, graph)
        while len(_bound) > BOUND_KEEP:
            _bound.popitem(last=False)
    return copy
