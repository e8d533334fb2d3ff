"""A run whose executor died after storing it ``running`` and before its first checkpoint (a
worker killed just after taking it) is started from its beginning by the resume that takes it
over: there is no checkpoint to go on from. It failed with LangGraph's ``EmptyInputError:
Received no input for __start__`` (one of the fleet test's 30 runs, its worker killed right
after the take)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.jobs.holding import brief
from tests.workflow.onestep import one_step_workflow
from vitco.bootstrap import build
from vitco.config import Settings
from vitco.llm.testing import TestModel
from vitco.sandbox import Sandbox
from vitco.workflow.brief import load_brief
from vitco.workflow.runner import create_run, resume
from vitco.workflow.runtime import Runtime

ran: list[str] = []


@pytest.fixture
def one_step(settings: Settings) -> Iterator[None]:
    def count(rt: Runtime, state: dict[str, Any]) -> dict[str, Any]:
        ran.append(rt.run_id)
        return {"status": "delivered"}

    with one_step_workflow(settings, "one-step", "count_for_resume_test", count):
        yield


def test_a_run_orphaned_before_its_first_checkpoint_is_started_by_its_resume(
    settings: Settings, sandbox: Sandbox, tmp_path: Path, one_step: None
) -> None:
    services = build(settings, model=TestModel(), sandbox=sandbox)
    store = services.store
    run_id = create_run(
        store, settings, load_brief(brief(tmp_path, "Early")), "test", workflow="one-step"
    )
    store.update_run(run_id, status="running")  # stored as started; its worker died then

    outcome = resume(services, run_id)
    outcome.stop()

    assert outcome.report["status"] == "delivered", outcome.report.get("reason")
    assert store.get_run(run_id).status == "delivered"
    assert ran.count(run_id) == 1
