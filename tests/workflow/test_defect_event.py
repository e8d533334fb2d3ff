"""A step's defect ends the run ``failed`` with an error event holding its traceback, the
operator's evidence. Every role reads a run's events and log, the client's included, so the
event says neither where the data dir is nor where vitco and its Python are installed; the
traceback still names the modules, lines and code that failed."""

from __future__ import annotations

import site
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import vitco
from tests.jobs.holding import brief
from tests.workflow.onestep import one_step_workflow
from vitco.bootstrap import build
from vitco.config import Settings
from vitco.llm.testing import TestModel
from vitco.observability.hostpaths import without_install
from vitco.sandbox import Sandbox
from vitco.workflow.brief import load_brief
from vitco.workflow.runner import create_run, execute
from vitco.workflow.runtime import Runtime


@pytest.fixture
def breaks(settings: Settings) -> Iterator[None]:
    def broken(rt: Runtime, state: dict[str, Any]) -> dict[str, Any]:
        # a defect whose message names a file of the data dir and one of the installation
        raise RuntimeError(f"cannot read {rt.settings.home}/outbox/x.eml or {sys.prefix}/lib/y")

    with one_step_workflow(settings, "breaks", "broken_for_defect_test", broken):
        yield


def test_a_defects_error_event_names_no_host_path(
    settings: Settings, sandbox: Sandbox, tmp_path: Path, breaks: None
) -> None:
    services = build(settings, model=TestModel(), sandbox=sandbox)
    store = services.store
    run_id = create_run(
        store, settings, load_brief(brief(tmp_path, "Breaks")), "test", workflow="breaks"
    )

    outcome = execute(services, run_id, model=TestModel(), inputs={"run_id": run_id})
    outcome.stop()

    assert outcome.report["status"] == "failed"
    [error] = [e for e in store.events(run_id) if e.kind == "error"]
    trace = str((error.data or {})["traceback"])
    said = " ".join([error.message, trace, store.get_run(run_id).reason or ""])
    vitco_root = str(Path(vitco.__file__).resolve().parent.parent)
    for host_path in {str(settings.home), sys.prefix, sys.base_prefix, vitco_root,
                      *site.getsitepackages()}:  # fmt: skip
        assert host_path not in said, host_path
    # what a reader needs is still there: the failing module and code, the file meant
    assert "tests/workflow/test_defect_event.py" in trace
    assert "vitco/workflow/runner.py" in trace and "<site-packages>/langgraph/" in trace
    assert "RuntimeError: cannot read outbox/x.eml or <python>/lib/y" in trace


def test_the_most_specific_installation_prefix_applies() -> None:
    packages = site.getsitepackages()[0]
    assert without_install(f"{packages}/langgraph/x.py") == "<site-packages>/langgraph/x.py"
    assert without_install(f"{sys.prefix}/bin/python") == "<python>/bin/python"
    vitco_file = Path(vitco.__file__).resolve()
    assert without_install(str(vitco_file)) == "vitco/__init__.py"
    assert without_install("/etc/passwd") == "/etc/passwd"  # not the installation's
