"""What a client is told when a run fails on a defect of vitco's: that it did, never the
exception, and nothing the client can read names the data dir (the run's reason, its events,
the mail)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.effects import mail_kinds, mails, plain
from tests.workflow.scripted import write_brief
from vitco.bootstrap import start_run
from vitco.config import Settings
from vitco.llm.model import ModelRequest
from vitco.llm.testing import FunctionModel
from vitco.sandbox import Sandbox
from vitco.store import open_store
from vitco.workflow.notices import DEFECT

pytestmark = pytest.mark.slow


def test_a_defect_is_mailed_without_its_exception_or_a_host_path(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    where = settings.home / "projects" / "hidden-place"

    def broken(request: ModelRequest) -> str:
        raise RuntimeError(f"could not read {where}")

    report = start_run(settings, write_brief(tmp_path), model=FunctionModel(broken),
                       sandbox=sandbox).report  # fmt: skip
    assert report["status"] == "failed"
    home = str(settings.home)
    # the operator still learns what broke, where (relative to the data dir)
    assert "could not read projects/hidden-place" in report["reason"]
    assert home not in report["reason"]
    events = open_store(settings).events(report["run_id"])
    assert any(e.kind == "error" and "Traceback" in str(e.data) for e in events)
    assert [e.message for e in events if home in f"{e.message} {json.dumps(e.data)}"] == []
    assert mail_kinds(settings.outbox_dir) == {"accepted": 1, "needs_attention": 1}
    (stopped,) = mails(settings.outbox_dir, kind="needs_attention")
    assert DEFECT in plain(stopped)
    assert "hidden-place" not in stopped.as_string() and "RuntimeError" not in plain(stopped)
