"""A worker makes what every run needs before it says it is ready (``vitco.workflow.warmup``):
the data dir's and the built-in workflow templates are compiled when ``build_worker`` returns,
and a user's template that does not compile keeps no worker from starting (its runs report it,
as before)."""

from __future__ import annotations

from pathlib import Path

from vitco.bootstrap import build_worker
from vitco.config import Settings
from vitco.llm.testing import TestModel
from vitco.sandbox import Sandbox
from vitco.workflow import compile as compiling
from vitco.workflow.template import template_files

MINE = """name: mine
description: a user's own template
start: analyze
nodes:
  analyze: {type: agent, role: analyst}
edges:
  - {from: analyze, to: end}
"""
BROKEN = "name: broken\nstart: nowhere\nnodes: {}\n"


def _compiled(path: Path) -> bool:
    return any(key[0] == str(path.resolve()) for key in compiling._compiled)


def test_a_built_worker_has_compiled_every_template_and_a_broken_one_stops_nothing(
    settings: Settings, sandbox: Sandbox
) -> None:
    folder = settings.home / "workflows"
    folder.mkdir(parents=True)
    (folder / "mine.yaml").write_text(MINE, encoding="utf-8")
    (folder / "broken.yaml").write_text(BROKEN, encoding="utf-8")
    files = template_files(settings.home)
    assert not _compiled(files["mine"])

    worker = build_worker(settings, model=TestModel(), sandbox=sandbox, concurrency=1)
    try:
        assert _compiled(files["mine"]) and _compiled(files["deliver-project"])
        assert not _compiled(files["broken"])
    finally:
        worker.close(5)
