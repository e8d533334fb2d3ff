"""A gate's answer is kept in the run's events from the moment it is given until the gate has
taken it, so a worker that dies while applying it does not lose it.

An approval (``vitco approve``, ``POST /v1/runs/{id}/approve``, a payment webhook) is recorded
as an ``answer`` event before it is acknowledged, then applied by resuming the run with it.
If the process applying it dies before the gate's checkpoint is written, the run is taken
over by a plain resume, which would pause at the same gate and ask again: instead, a resume
of a run paused at a gate applies the answer recorded after the run last paused
(``pending_answer``). An answer given before an earlier pause, or one the gate has taken
(its checkpoint written: no pause pending), is never applied again.
"""

from __future__ import annotations

from typing import Any

from vitco.store import Store

KIND = "answer"


def record_answer(store: Store, run_id: str, answer: dict[str, Any]) -> None:
    """Keep ``answer`` to the gate ``run_id`` waits at (before it is acknowledged)."""
    verdict = "approved" if answer.get("approved") else "not approved"
    store.add_event(run_id, KIND, f"the gate's answer is in: {verdict}", data={"answer": answer})


def pending_answer(store: Store, run_id: str) -> dict[str, Any] | None:
    """The answer recorded since the run last paused at a gate, if any (the newest)."""
    paused = f"run {run_id} awaiting_approval"
    since, answer = 0, None
    for event in store.events(run_id):
        if event.kind == "run" and event.message.startswith(paused):
            since, answer = event.id, None
        elif event.kind == KIND and event.id > since and isinstance(event.data, dict):
            found = event.data.get("answer")
            answer = found if isinstance(found, dict) else answer
    return answer
