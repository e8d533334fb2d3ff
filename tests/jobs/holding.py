"""A two-step workflow whose first step holds a sandboxed command until the test lets it go.

``register()`` registers the steps; ``holding(settings)`` also writes the user template
``hold`` (``hold`` then ``after``). ``hold`` runs ``sh`` in the project's sandbox, which prints
``started`` and waits until the file ``go`` appears in the workspace (``release``), prints
``finished`` and exits; ``after`` ends the run ``delivered`` if the command finished. Both
leave events a test in another process can read from the store: ``hold started`` at once,
``hold finished`` and ``after ran`` with their step (only when the step is recorded).
``tests/jobs/worker_main.py`` registers the steps in a ``vitco worker`` subprocess.
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
from vitco.store import Store, open_store
from vitco.workflow.runtime import Runtime
from vitco.workflow.steps import step, unregister

TEMPLATE = """name: hold
description: one sandboxed command that waits for the test, then one more step
start: hold
nodes:
  hold: {type: tool, step: hold_for_test}
  after: {type: tool, step: after_hold_for_test}
edges:
  - {from: hold, to: after, when: done}
  - {from: after, to: end, when: done}
"""

WAIT = (
    "echo started; i=0; while [ ! -e go ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done;"
    " echo finished"
)

started: defaultdict[str, threading.Event] = defaultdict(threading.Event)
output: dict[str, str] = {}


def hold(rt: Runtime, state: dict[str, Any]) -> dict[str, Any]:
    def seen(name: str, data: bytes) -> None:
        if b"started" in data:
            rt.emit_now("hold", "hold started", task=None, data={})
            started[rt.run_id].set()

    result = rt.sandbox.run(["sh", "-c", WAIT], rt.base.path, Limits(wall_s=90), on_output=seen)
    output[rt.run_id] = result.stdout
    finished = "finished" in result.stdout
    rt.emit("hold", "hold finished" if finished else "hold cut short")
    return {"outcome": "done", "status": "delivered" if finished else "failed"}


def after(rt: Runtime, state: dict[str, Any]) -> dict[str, Any]:
    rt.emit("hold", "after ran")
    status = state.get("status") or "failed"
    return {"outcome": "done", "status": status}


def register() -> None:
    step("hold_for_test", level="project", outcomes=("done",))(hold)
    step("after_hold_for_test", level="project", outcomes=("done",))(after)


def write_template(home: Path) -> None:
    folder = home / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hold.yaml").write_text(TEMPLATE)


class Hold:
    """What a test asks of the held runs of a data dir."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.output = output

    @property
    def store(self) -> Store:
        return open_store(self.settings)

    def wait_started(self, run_id: str, timeout: float = 60.0) -> bool:
        return started[run_id].wait(timeout)

    def release(self, run_id: str) -> None:
        store = self.store
        repo = Path(store.get_project(store.get_run(run_id).project_id).repo_path)
        (repo / "go").write_text("")

    def count(self, run_id: str, message: str) -> int:
        return sum(1 for e in self.store.events(run_id) if e.message == message)


@contextmanager
def holding(settings: Settings) -> Iterator[Hold]:
    register()
    write_template(settings.home)
    try:
        yield Hold(settings)
    finally:
        unregister("hold_for_test")
        unregister("after_hold_for_test")


def brief(folder: Path, title: str) -> Path:
    path = folder / f"{title.lower()}.md"
    path.write_text(
        f"---\nclient: Grace Hopper <grace@example.com>\n---\n# {title}\n\nHold on.\n",
        encoding="utf-8",
    )
    return path
