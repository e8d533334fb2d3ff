"""The ``deliver-project`` graph in LangGraph.

::

    analyze -> plan -> schedule --Send(task)--> [task subgraph] --> schedule
                           |                                       (until no task is ready)
                           +-> integrate -> deploy -> deliver
                           +-> stuck (a task needs attention)

    task subgraph: implement -> review -> write_tests -> test -> commit
                   review/test fail -> implement (bounded by max_attempts) | give_up

Every cycle is bounded: the task loop by ``max_attempts``, the schedule loop by the number of
tasks (each pass finishes at least one ready task or stops).
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from vitco.workflow.project_steps import ProjectSteps
from vitco.workflow.runtime import Runtime
from vitco.workflow.state import RunState, TaskInput, TaskOutput, TaskState
from vitco.workflow.task_steps import TaskSteps


def build_task_graph(steps: TaskSteps) -> Any:
    g = StateGraph(TaskState, input_schema=TaskInput, output_schema=TaskOutput)
    g.add_node("implement", steps.implement)
    g.add_node("review", steps.review)
    g.add_node("write_tests", steps.write_tests)
    g.add_node("test", steps.test)
    g.add_node("commit", steps.commit)
    g.add_node("give_up", steps.give_up)
    g.add_edge(START, "implement")
    g.add_edge("implement", "review")
    g.add_conditional_edges("review", steps.after_review, ["write_tests", "implement", "give_up"])
    g.add_edge("write_tests", "test")
    g.add_conditional_edges("test", steps.after_test, ["commit", "implement", "give_up"])
    g.add_edge("commit", END)
    g.add_edge("give_up", END)
    return g.compile()


def build_graph(rt: Runtime, checkpointer: Any) -> Any:
    """The compiled ``deliver-project`` graph for one run's runtime."""
    project = ProjectSteps(rt)
    tasks = TaskSteps(rt, project.plan_of)
    g = StateGraph(RunState)
    g.add_node("analyze", project.analyze)
    g.add_node("plan", project.plan)
    g.add_node("schedule", project.schedule)
    g.add_node("task", build_task_graph(tasks))
    g.add_node("stuck", project.stuck)
    g.add_node("integrate", project.integrate)
    g.add_node("deploy", project.deploy)
    g.add_node("deliver", project.deliver)
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
