"""The spec check before planning: a critic pass over the analyst's spec, and its fix.

``check_spec`` asks the reviewer, as a critic, for contradictions between criteria, examples
that break the spec's own rules and criteria no test could decide (``SpecCritique``). When it
finds problems, ``revise_spec`` has the analyst answer the whole spec again with those problems
fixed, and the critic looks once more. How many checks a run gets is the template's business
(``max: spec_checks`` on the edge into ``revise_spec``, with ``exhausted: plan``): once they are
spent the manager plans with the latest spec, and the critic's last problems stay in the report.
The round is counted in the graph state (``spec_checks``), so a resumed or forked run asks the
same questions under the same call keys.

Every critique is an artifact (``spec_critique``) and every fix an amended ``spec`` with an
``amendment`` artifact saying why; both are events and both are in the delivery report.
"""

from __future__ import annotations

from typing import Any

from vitco.agents.agent import ask
from vitco.agents.outputs import Spec, SpecCritique
from vitco.agents.role import load_role
from vitco.context.roles import environment
from vitco.llm.model import CallKey
from vitco.workflow.runtime import Runtime
from vitco.workflow.state import RunState
from vitco.workflow.steps import step

Update = dict[str, Any]


def _brief_text(rt: Runtime) -> str:
    return rt.store.get_brief(rt.run_row().brief_id).text


def _last_critique(rt: Runtime) -> dict[str, Any] | None:
    critiques = rt.store.artifacts(rt.run_id, "spec_critique")
    return critiques[-1].content if critiques else None


@step("check_spec", level="project", outcomes=("sound", "revise"), role="reviewer", primary=False)
def check_spec(rt: Runtime, state: RunState) -> Update:
    """The critic's pass over the current spec; ``revise`` when it found problems."""
    round_ = state.get("spec_checks", 0) + 1
    rt.emit("step", f"reviewer checks the spec (check {round_})", step="check_spec")
    earlier = _last_critique(rt) if round_ > 1 else None
    answer = ask(
        rt.model,
        load_role("reviewer"),
        SpecCritique,
        CallKey(role="reviewer", step="check_spec", attempt=round_),
        {
            "Your job now": "Check the specification below before the team plans and builds "
            "it (a spec check, not a code review). Answer a SpecCritique.",
            "Environment": environment(rt),
            "Brief": _brief_text(rt),
            "Specification": rt.store.get_artifact(state["spec"]),
            "Problems you found in the previous version": earlier and earlier["problems"],
        },
    )
    critique = answer.output
    rt.store.put_artifact(
        rt.run_id,
        "spec_critique",
        critique.model_dump() | {"round": round_, "spec": state["spec"]},
        attempt=round_,
    )
    if critique.verdict == "sound":
        rt.emit("spec_check", "the critic finds the spec sound", step="check_spec")
        return {"spec_checks": round_, "outcome": "sound"}
    found = "; ".join(f"{p.kind}: {p.criterion}" for p in critique.problems)
    rt.emit(
        "spec_check",
        f"the critic found {len(critique.problems)} problem(s) in the spec: {found}",
        step="check_spec",
        data={"round": round_, "problems": [p.model_dump() for p in critique.problems]},
    )
    return {"spec_checks": round_, "outcome": "revise"}


@step("revise_spec", level="project", role="analyst", primary=False)
def revise_spec(rt: Runtime, state: RunState) -> Update:
    """The analyst fixes the problems of the critic's last check."""
    round_ = state.get("spec_checks", 1)
    critique = _last_critique(rt)
    problems = critique["problems"] if critique else []
    rt.emit("step", "analyst fixes the spec", step="revise_spec")
    answer = ask(
        rt.model,
        load_role("analyst"),
        Spec,
        CallKey(role="analyst", step="revise_spec", attempt=round_),
        {
            "Your job now": "A critic checked your specification before planning and found "
            "the problems below. Answer the whole specification again with each problem "
            "fixed; keep everything else as it is.",
            "Environment": environment(rt),
            "Brief": _brief_text(rt),
            "Your specification": rt.store.get_artifact(state["spec"]),
            "Problems to fix": problems,
        },
    )
    return amend(rt, answer.output, by="critic", why=problems, previous=state["spec"])


def amend(
    rt: Runtime,
    spec: Spec,
    *,
    by: str,
    why: Any,
    previous: str,
    task: str | None = None,
    attempt: int | None = None,
) -> Update:
    """Store an amended spec and say so (an event, an ``amendment`` artifact for the report);
    returns the state update pointing at it."""
    ref = rt.store.put_artifact(rt.run_id, "spec", spec.model_dump(), task=task, attempt=attempt)
    rt.store.put_artifact(
        rt.run_id,
        "amendment",
        {"spec": ref, "previous": previous, "by": by, "why": why},
        task=task,
        attempt=attempt,
    )
    where = f" for {task}" if task else ""
    rt.emit(
        "spec_amended",
        f"the analyst amended the spec{where} ({by}): {spec.title}, "
        f"{len(spec.user_stories)} stories",
        step="amend_spec" if task else "revise_spec",
        task=task,
        data={"spec": ref, "by": by},
    )
    return {"spec": ref, "amended": [ref]}
