"""vitco's cost per workflow step against bare LangGraph, measured side by side in one run.

Three chains of ``--steps`` steps (default 10), each step returning a 1 KiB state update, all
on the checkpoint saver vitco uses (SQLite, or PostgreSQL with ``--database-url``) with
``durability="sync"`` (a checkpoint on disk before the next step), each round running them in
turn (A B C A B C ...) so a drifting machine hits all alike:

- **bare**: a plain ``StateGraph`` of plain functions, the floor;
- **vitco**: a vitco template of registered no-op steps, compiled by vitco (the step registry,
  the outcome check, fault points, the run's ``Runtime`` as LangGraph context): the
  orchestration's own cost;
- **platform**: the same template whose steps do what a real step writes besides its model call
  and its sandbox: an event, an artifact and a task row in vitco's store (SQLite, in the same
  data dir): the platform's cost per step.

Figures are medians over ``--rounds`` (default 7) of the per-step wall time in milliseconds,
and the ratios vitco/bare and platform/bare of each round's pair, median.

    python bench/steps.py          # a table
    python bench/steps.py --json   # one JSON object
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import operator
import platform as host
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Annotated, Any, TypedDict

import httpx
from langgraph.graph import END, START, StateGraph

from vitco.config import Settings
from vitco.integrations.mail import OutboxMailer
from vitco.llm.testing import TestModel
from vitco.sandbox import UnsafeSandbox
from vitco.store import open_store
from vitco.workflow.checkpoints import open_checkpointer
from vitco.workflow.compile import compile_workflow
from vitco.workflow.runtime import Runtime
from vitco.workflow.steps import step

BLOB = "x" * 1024


class State(TypedDict, total=False):
    run_id: str
    blob: str
    n: Annotated[int, operator.add]


def _bare(steps: int, saver: Any) -> Any:
    graph: Any = StateGraph(State)
    names = [f"s{i}" for i in range(steps)]
    for name in names:
        graph.add_node(name, lambda state: {"blob": BLOB, "n": 1})
    graph.add_edge(START, names[0])
    for a, b in itertools.pairwise(names):
        graph.add_edge(a, b)
    graph.add_edge(names[-1], END)
    return graph.compile(checkpointer=saver)


@step("bench_noop", level="project")
def _noop(rt: Runtime, state: Any) -> dict[str, Any]:
    return {"reason": BLOB}


@step("bench_write", level="project")
def _write(rt: Runtime, state: Any) -> dict[str, Any]:
    rt.emit("step", "bench step", step="bench_write")
    rt.store.put_artifact(rt.run_id, "bench", {"blob": BLOB})
    rt.store.update_task(rt.run_id, "T1", status="running")
    return {"reason": BLOB}  # the same state update as bench_noop: only the store differs


def _template(home: Path, name: str, step_name: str, steps: int) -> str:
    nodes = "\n".join(f"  s{i}: {{type: tool, step: {step_name}}}" for i in range(steps))
    edges = "\n".join(f"  - {{from: s{i}, to: s{i + 1}}}" for i in range(steps - 1))
    text = f"name: {name}\nstart: s0\nnodes:\n{nodes}\nedges:\n{edges}\n"
    text += f"  - {{from: s{steps - 1}, to: end}}\n"
    folder = home / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(text)
    return name


def measure(steps: int, rounds: int, database_url: str | None = None) -> dict[str, Any]:
    logging.getLogger("vitco.sandbox").setLevel(logging.ERROR)  # the unsafe sandbox's warning
    with tempfile.TemporaryDirectory(prefix="vitco-bench-steps-") as tmp:
        home = Path(tmp) / "home"
        settings = Settings(home=home, database_url=database_url)
        store = open_store(settings)
        project = store.create_project("bench", str(home / "repo"))
        brief = store.create_brief(project.id, "bench", "bench")
        run = store.create_run(project.id, brief.id, "test", "bench")
        store.add_tasks(run.id, [{"key": "T1", "title": "t", "role": "developer", "complexity": 1}])
        noop = _template(home, "bench-noop", "bench_noop", steps)
        writes = _template(home, "bench-write", "bench_write", steps)
        with open_checkpointer(settings) as saver, httpx.Client() as http:
            rt = Runtime(
                settings=settings,
                store=store,
                model=TestModel(),
                sandbox=UnsafeSandbox(explicit=True, state_root=Path(tmp) / "sandbox"),
                mailer=OutboxMailer(settings.outbox_dir),
                http=http,
                run_id=run.id,
                project_id=project.id,
                repo_path=home / "repo",
            )
            graphs = {
                "bare": (_bare(steps, saver), None),
                "vitco": (compile_workflow(noop, home, saver), rt),
                "platform": (compile_workflow(writes, home, saver), rt),
            }
            samples: dict[str, list[float]] = {name: [] for name in graphs}
            for i in range(rounds + 1):  # the first round warms up, uncounted
                for name, (graph, context) in graphs.items():
                    config = {"configurable": {"thread_id": f"{name}-{uuid.uuid4().hex}"}}
                    inputs = {"run_id": run.id}
                    began = time.perf_counter()
                    if context is None:
                        graph.invoke(inputs, config, durability="sync")
                    else:
                        graph.invoke(inputs, config, context=context, durability="sync")
                    per_step = (time.perf_counter() - began) * 1000 / steps
                    if i:
                        samples[name].append(per_step)
    bare = samples["bare"]
    return {
        "steps": steps,
        "rounds": rounds,
        "machine": f"{host.system()} {host.release()} {host.machine()}",
        "database": "postgresql" if database_url else "sqlite",
        "bare_ms_per_step": round(statistics.median(bare), 3),
        "vitco_ms_per_step": round(statistics.median(samples["vitco"]), 3),
        "platform_ms_per_step": round(statistics.median(samples["platform"]), 3),
        "vitco_over_bare": round(
            statistics.median(v / b for v, b in zip(samples["vitco"], bare, strict=True)), 2
        ),
        "platform_over_bare": round(
            statistics.median(p / b for p, b in zip(samples["platform"], bare, strict=True)), 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL URL (postgresql+psycopg://...) for the store and the checkpoints; "
        "default: SQLite files in a temporary data dir",
    )
    args = parser.parse_args()
    figures = measure(args.steps, args.rounds, args.database_url)
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"{figures['steps']} steps, {figures['rounds']} rounds, {figures['database']}, "
        f"{figures['machine']}"
    )
    for name in ("bare", "vitco", "platform"):
        print(f"  {name:<9} {figures[f'{name}_ms_per_step']:8.3f} ms per step")
    print(f"  vitco / bare     {figures['vitco_over_bare']:.2f}x")
    print(f"  platform / bare  {figures['platform_over_bare']:.2f}x")


if __name__ == "__main__":
    main()
