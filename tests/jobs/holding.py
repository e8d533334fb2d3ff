"""A one-step workflow whose step holds a sandboxed command until the test lets it go.

``holding(settings)`` registers the step ``hold_for_test`` and writes the user template
``hold``: the step runs ``sh`` in the project's sandbox, which prints ``started`` and waits
until the file ``go`` appears in the workspace (``Hold.release``), prints ``finished`` and
exits; the run is ``delivered`` only if the command finished. The test sees each run's start
(``Hold.started``) and the command's output (``Hold.output``).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vitco.config import Settings
from vitco.sandbox.protocol import Limits
from vitco.store import open_store
from vitco.workflow.runtime import Runtime
from vitco.workflow.steps import step, unregister

TEMPLATE = """name: hold
description: one sandboxed command that waits for the test
start: hold
nodes:
  hold: {type: tool, step: hold_for_test}
edges:
  - {from: hold, to: end, when: done}
"""

WAIT = (
    "echo started; i=0; while [ ! -e go ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done;"
    " echo finished"
)


class Hold:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started: defaultdict[str, threading.Event] = defaultdict(threading.Event)
        self.output: dict[str, str] = {}

    def wait_started(self, run_id: str, timeout: float = 60.0) -> bool:
        return self.started[run_id].wait(timeout)

    def release(self, run_id: str) -> None:
        store = open_store(self.settings)
        repo = Path(store.get_project(store.get_run(run_id).project_id).repo_path)
        (repo / "go").write_text("")

    def run(self, rt: Runtime, state: dict[str, Any]) -> dict[str, Any]:
        def seen(name: str, data: bytes) -> None:
            if b"started" in data:
                self.started[rt.run_id].set()

        result = rt.sandbox.run(["sh", "-c", WAIT], rt.base.path, Limits(wall_s=60), on_output=seen)
        self.output[rt.run_id] = result.stdout
        finished = "finished" in result.stdout
        return {"outcome": "done", "status": "delivered" if finished else "failed"}


@contextmanager
def holding(settings: Settings) -> Iterator[Hold]:
    hold = Hold(settings)
    step("hold_for_test", level="project", outcomes=("done",))(hold.run)
    folder = settings.home / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hold.yaml").write_text(TEMPLATE)
    try:
        yield hold
    finally:
        unregister("hold_for_test")


def brief(folder: Path, title: str) -> Path:
    path = folder / f"{title.lower()}.md"
    path.write_text(
        f"---\nclient: Grace Hopper <grace@example.com>\n---\n# {title}\n\nHold on.\n",
        encoding="utf-8",
    )
    return path
