"""The developer's turns: look around with bounded tools, then answer with a changeset.

Each turn is one request with the developer's sections plus the results of the tools it
asked for so far (``DeveloperAnswer``): either up to ``MAX_TOOL_CALLS`` tool calls, answered
by ``tools.run_tool`` over the task's files, or the changeset. At most ``MAX_TOOL_TURNS``
turns may ask for tools; the turn after that must answer (validation refuses tool calls, and
the repair round trip says so). Search/replace edits that do not apply go back as the next
turn's results with each problem named. The results kept in a request are capped at
``MAX_RESULTS_CHARS`` (older ones are dropped, and the model is told), so every request stays
bounded however many files the repository has.

Turn ``n > 1`` of a call is keyed ``<step>~<n>`` (``developer/implement~2/T1#1``): journals,
cassettes and scripted tests tell the turns apart, and a resumed run replays them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vitco.agents.agent import ask
from vitco.agents.exceptions import OutputInvalid
from vitco.agents.outputs import MAX_TOOL_CALLS, Changeset, DeveloperAnswer
from vitco.agents.role import Role
from vitco.context.edits import resolve_edits
from vitco.context.exceptions import EditsFailed
from vitco.context.snapshot import Snapshot
from vitco.context.tools import run_tool
from vitco.llm.model import CallKey, Model, Tier

MAX_TOOL_TURNS = 6
"""Turns that may ask for tools; one more must answer with the changeset."""
MAX_RESULTS_CHARS = 48_000
"""Tool results carried in one request (the newest kept)."""


def turn_key(key: CallKey, turn: int) -> CallKey:
    """The key of turn ``turn`` of the call ``key``."""
    return key if turn == 1 else key.model_copy(update={"step": f"{key.step}~{turn}"})


def _kept(results: list[str]) -> str | None:
    kept: list[str] = []
    used = 0
    for result in reversed(results):
        if used + len(result) > MAX_RESULTS_CHARS:
            kept.append(f"[{len(results) - len(kept)} older results dropped: ask again if needed]")
            break
        kept.append(result)
        used += len(result)
    return "\n\n".join(reversed(kept)) or None


def tools_note(left: int) -> str:
    """What the request says about the tools left."""
    if left == 0:
        return "No tool calls are left: answer with the changeset now."
    return (
        f"You may ask for tools in {left} more turn(s), up to {MAX_TOOL_CALLS} calls each "
        "(read, search, list), or answer with the changeset."
    )


def develop(
    model: Model,
    role: Role,
    key: CallKey,
    sections: Mapping[str, Any],
    view: Snapshot,
    *,
    complexity: int | None = None,
    tier: Tier | None = None,
) -> Changeset:
    """The developer's changeset for ``key``, its edits resolved against ``view``."""
    results: list[str] = []
    for turn in range(1, MAX_TOOL_TURNS + 2):
        left = MAX_TOOL_TURNS + 1 - turn
        request = {**sections, "Tool results": _kept(results), "Tools": tools_note(left)}
        answer = ask(
            model,
            role,
            DeveloperAnswer,
            turn_key(key, turn),
            request,
            complexity=complexity,
            tier=tier,
            context={"tools_left": left},
        ).output
        if answer.changeset is None:
            results += [run_tool(view, call) for call in answer.tools]
            continue
        try:
            return resolve_edits(view, answer.changeset)
        except EditsFailed as failed:
            if left == 0:
                label = turn_key(key, turn).label()
                raise OutputInvalid(role.name, label, "Changeset", str(failed)) from failed
            problems = "\n".join(f"- {p}" for p in failed.problems)
            results.append(f"### your edits were not applied\n\n{problems}")
    raise AssertionError("unreachable: the last turn answers or raises")  # pragma: no cover
