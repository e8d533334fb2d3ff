"""Workflow state: ids and references only, never file contents or long texts.

A checkpoint is written at every step, so the state stays small: the texts live in the store
(artifacts, the ledger) and the code in git; the state points at them.
"""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict


def merge(left: dict[str, int] | None, right: dict[str, int] | None) -> dict[str, int]:
    """Reducer for loop counters: later counts win, key by key."""
    return {**(left or {}), **(right or {})}


class RunState(TypedDict, total=False):
    run_id: str
    outcome: str  # how the last step ended, for the template's `when:` edges
    loops: Annotated[dict[str, int], merge]  # how often each bounded loop edge was taken
    spec: str  # artifact id of the Spec (the analyst's, or its fix after the spec check)
    spec_checks: int  # critic passes over the spec so far
    amended: Annotated[list[str], operator.add]  # specs amended since, latest last
    plan: str  # artifact id of the Plan
    done: Annotated[list[str], operator.add]  # task ids merged into main
    blocked: Annotated[list[str], operator.add]  # task ids that need attention
    tests: str  # artifact id of the whole-suite test report
    deploy: str  # artifact id of the deployment
    mail: str  # where the delivery mail went
    status: str
    reason: str


class TaskInput(TypedDict):
    run_id: str
    task: str
    spec: str
    plan: str


class TaskOutput(TypedDict, total=False):
    done: Annotated[list[str], operator.add]
    blocked: Annotated[list[str], operator.add]
    amended: Annotated[list[str], operator.add]  # specs a dispute amended (later tasks use them)


class TaskState(TypedDict, total=False):
    run_id: str
    task: str
    spec: str
    plan: str
    attempt: int
    tier: str  # set when a stuck task is escalated to a stronger model tier
    changeset: str  # artifact id of the current attempt's Changeset
    review: str  # artifact id of the current attempt's Review
    qa: str  # artifact id of QA's latest tests for the task (a ruling may supersede them)
    qa_spec: str  # the spec QA's tests were written against (an amended spec: QA rewrites)
    amended: Annotated[list[str], operator.add]  # specs this task's disputes amended
    report: str  # artifact id of the current attempt's TestReport
    feedback: str  # artifact id of what the next attempt must fix (review, test report, conflict)
    outcome: str  # the last step's: done | disputed | upheld | rewritten | amend | approved | ...
    loops: Annotated[dict[str, int], merge]
    reason: str
    done: Annotated[list[str], operator.add]
    blocked: Annotated[list[str], operator.add]


def current_spec(state: RunState) -> str:
    """The spec the work goes on with: the latest amended one, else the run's."""
    amended = state.get("amended") or []
    return amended[-1] if amended else state["spec"]
