"""The ``deliver-project`` graph in LangGraph.

::

    analyze -> plan -> schedule --Send(task)--> [task subgraph] --> schedule
                           |                                       (until no task is ready)
                           +-> integrate -> deploy -> deliver
                           +-> stuck (a task needs attention)

    task subgraph: implement -> review -> write_tests -> test -> commit
                   review / test / merge conflict -> implement (bounded by max_attempts) | give_up

Every cycle is bounded: the task loop by ``max_attempts``, the schedule loop by the number of
tasks (each pass finishes or blocks at least one ready task).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.graph import END, START, StateGraph

from vitco.workflow.project_steps import ProjectSteps
from vitco.workflow.runtime import Runtime
from vitco.workflow.state import RunState, TaskInput, TaskOutput, TaskState
from vitco.workflow.task_steps import TaskSteps

Node = Callable[[Any], dict[str, Any]]


def _with_faults(rt: Runtime, name: str, fn: Node) -> Node:
    """A node that passes the fault points ``before:<name>`` and ``after:<name>``."""

    def node(state: Any) -> dict[str, Any]:
        rt.fault(f"before:{name}")
        update = fn(state)
        rt.fault(f"after:{name}")
        return update

    node.__name__ = name
    return node


def build_task_graph(rt: Runtime, steps: TaskSteps) -> Any:
    g = StateGraph(TaskState, input_schema=TaskInput, output_schema=TaskOutput)
    for name in ("implement", "review", "write_tests", "test", "commit", "give_up"):
        g.add_node(name, _with_faults(rt, name, getattr(steps, name)))
    g.add_edge(START, "implement")
    g.add_edge("implement", "review")
    g.add_conditional_edges("review", steps.after_review, ["write_tests", "implement", "give_up"])
    g.add_edge("write_tests", "test")
    g.add_conditional_edges("test", steps.after_test, ["commit", "implement", "give_up"])
    g.add_conditional_edges(
        "commit", steps.after_commit, {"end": END, "implement": "implement", "give_up": "give_up"}
    )
    g.add_edge("give_up", END)
    return g.compile()


def build_graph(rt: Runtime, checkpointer: Any) -> Any:
    """The compiled ``deliver-project`` graph for one run's runtime."""
    project = ProjectSteps(rt)
    g = StateGraph(RunState)
    for name in ("analyze", "plan", "schedule", "stuck", "integrate", "deploy", "deliver"):
        g.add_node(name, _with_faults(rt, name, getattr(project, name)))
    g.add_node("task", build_task_graph(rt, TaskSteps(rt)))
    g.add_edge(START, "analyze")
    g.add_edge("analyze", "plan")
    g.add_edge("plan", "schedule")
    g.add_conditional_edges("schedule", project.dispatch, ["task", "integrate", "stuck"])
    g.add_edge("task", "schedule")
    g.add_edge("stuck", END)
    g.add_conditional_edges("integrate", project.after_integrate, {"deploy": "deploy", "end": END})
    g.add_edge("deploy", "deliver")
    g.add_edge("deliver", END)
    return g.compile(checkpointer=checkpointer)
