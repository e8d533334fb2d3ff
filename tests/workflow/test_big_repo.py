"""add-feature on a repository of real size: 500 files (about 3 MB), the task about one 60 KB
module. The developer sees that module, looks around with its tools, changes it with a
search/replace edit, and no request is over ``MAX_REQUEST_CHARS``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.big_repo import DISCOUNTED, MODULE, TOTAL, answers, make_repo
from tests.workflow.scripted import DEPLOY, script, write_brief
from vitco.bootstrap import start_run
from vitco.config import Settings
from vitco.integrations.git.repo import Repo
from vitco.sandbox import Sandbox

pytestmark = pytest.mark.slow
MAX_REQUEST_CHARS = 160_000
"""About 40,000 tokens: the most any one request of the run may hold."""


def test_add_feature_on_500_files_edits_the_big_module_within_bounded_requests(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    client = make_repo(tmp_path / "client", files=500)
    size = sum(p.stat().st_size for p in client.rglob("*") if p.is_file() and ".git" not in p.parts)
    assert size > 2_900_000 and (client / MODULE).stat().st_size > 60_000
    model = script(answers(deploy=DEPLOY))

    report = start_run(
        settings,
        write_brief(tmp_path),
        model=model,
        sandbox=sandbox,
        workflow="add-feature",
        repo=client,
    ).report

    assert report["status"] == "delivered", report["reason"]
    labels = [r.key.label() for r in model.requests]
    assert "developer/implement~2/T1#1" in labels  # a tool turn, then the edit
    sizes = {r.key.label(): sum(len(m.content) for m in r.messages) for r in model.requests}
    assert max(sizes.values()) <= MAX_REQUEST_CHARS, sizes
    delivered = Repo(Path(report["repo"]))
    text = delivered.git("show", f"main:{MODULE}")
    assert DISCOUNTED.strip() in text and TOTAL not in text
    assert text.startswith('"""Generated module 9999."""')  # the rest of the module is intact
    assert len(text) > 60_000
    assert (client / MODULE).read_text().endswith(TOTAL)  # the client's copy is untouched
