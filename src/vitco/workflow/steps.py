"""The steps and collections a workflow template can name, each declared once, where it is
written.

A step is a function ``(rt, state) -> update`` registered with ``@step(name, level=...,
outcomes=..., role=...)``. The template validator reads this registry (which steps exist, at
which level, the outcomes their edges may name, the role that performs an agent's step), the
compiler binds template nodes to it, and at run time an outcome a step did not declare is a
defect of the step (``UndeclaredOutcome``), never silently routed. A collection is what a
``map`` node iterates (``over:``): a function ``(rt, state)`` returning the items ready to run
(the inputs of the map's flow) or, when none is, the map's outcome.

Steps and collections from outside the package register the same way (a plugin, a test); the
built-in ones are in ``project_steps`` and ``task_steps``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from vitco.workflow.runtime import Runtime

Level = Literal["project", "task"]
Update = dict[str, Any]
StepFn = Callable[["Runtime", Any], Update]
CollectionFn = Callable[["Runtime", Any], "list[dict[str, Any]] | str"]


@dataclass(frozen=True)
class Step:
    """A registered step: ``run(rt, state)`` returns the state update (with ``outcome`` set to
    one of ``outcomes`` when it has any)."""

    name: str
    level: Level
    outcomes: tuple[str, ...]
    role: str | None
    run: StepFn
    primary: bool = True  # the step an agent node naming only its role runs


@dataclass(frozen=True)
class Collection:
    """What a map iterates; ``outcomes`` are what it answers once nothing is left to run."""

    name: str
    outcomes: tuple[str, ...]
    items: CollectionFn


class UndeclaredOutcome(RuntimeError):
    """Step ``step`` ended with ``outcome``, which it does not declare: a defect in the step."""

    def __init__(self, step: str, outcome: object, declared: tuple[str, ...]) -> None:
        self.step = step
        self.outcome = outcome
        self.declared = declared
        super().__init__(
            f"step {step!r} ended with outcome {outcome!r}, not one it declares "
            f"({', '.join(declared) or 'none'})"
        )


_lock = threading.Lock()
_steps: dict[str, Step] = {}
_collections: dict[str, Collection] = {}


def step(
    name: str,
    *,
    level: Level,
    outcomes: tuple[str, ...] = (),
    role: str | None = None,
    primary: bool = True,
) -> Callable[[StepFn], StepFn]:
    """Register the decorated function as step ``name`` (a later registration replaces it).
    A role's further steps (the reviewer's spec check beside its review) are not ``primary``:
    a template names them (``{type: agent, role: reviewer, step: check_spec}``)."""

    def register(fn: StepFn) -> StepFn:
        with _lock:
            _steps[name] = Step(name, level, outcomes, role, fn, primary)
        return fn

    return register


def collection(name: str, *, outcomes: tuple[str, ...]) -> Callable[[CollectionFn], CollectionFn]:
    """Register the decorated function as the collection ``name`` a map can iterate."""

    def register(fn: CollectionFn) -> CollectionFn:
        with _lock:
            _collections[name] = Collection(name, outcomes, fn)
        return fn

    return register


def _builtins() -> None:
    # Imported here, not at the top: the step modules import this one to register.
    import vitco.workflow.dispute_steps
    import vitco.workflow.payment_steps
    import vitco.workflow.project_steps
    import vitco.workflow.spec_steps
    import vitco.workflow.task_steps  # noqa: F401


def steps() -> dict[str, Step]:
    """Every registered step by name (the built-in ones included)."""
    _builtins()
    with _lock:
        return dict(_steps)


def collections() -> dict[str, Collection]:
    _builtins()
    with _lock:
        return dict(_collections)


def step_of_role(role: str) -> Step | None:
    """The one primary step ``role`` performs (an agent node naming only a role runs it)."""
    matches = [s for s in steps().values() if s.role == role and s.primary]
    return matches[0] if len(matches) == 1 else None


def unregister(name: str) -> None:
    with _lock:
        _steps.pop(name, None)
        _collections.pop(name, None)


def run_step(defn: Step, rt: Runtime, state: Any) -> Update:
    """Run a step and check the outcome it ended with against what it declares."""
    update = defn.run(rt, state)
    outcome = update.get("outcome")
    if defn.outcomes and outcome not in defn.outcomes:
        raise UndeclaredOutcome(defn.name, outcome, defn.outcomes)
    return update
