"""Time travel: list a run's checkpoints, and fork a new run from one with changed state.

A fork is a new run of the same project on its own branch ``fork/<run>``, which starts at the
commit the original run's branch had at the fork point (so both share the history up to there).
The fork's graph thread starts from a copy of the checkpoint's state with the edits applied;
edits to the spec or plan write new artifacts, the original run's are never touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from vitco.agents.outputs import Plan, Spec
from vitco.config import Settings
from vitco.integrations.git.repo import Repo
from vitco.store import Store
from vitco.store.models import Run, new_id
from vitco.workflow.checkpoints import open_checkpointer, run_config
from vitco.workflow.compile import MAP_ITEM
from vitco.workflow.exceptions import BadFork
from vitco.workflow.graph import build_graph

EDITABLE: dict[str, type[BaseModel]] = {"spec": Spec, "plan": Plan}


def _graph(settings: Settings, run: Run, saver: Any) -> Any:
    """The run's compiled graph, to read its checkpoints (nothing runs, so no runtime)."""
    return build_graph(run.workflow, settings.home, saver)


def checkpoints(settings: Settings, store: Store, run_id: str) -> list[dict[str, Any]]:
    """A run's checkpoints, oldest first: id, step, the node(s) that just ran, next, cost."""
    run = store.get_run(run_id)
    calls = store.calls(run_id=run_id)
    with open_checkpointer(settings) as saver:
        history = list(_graph(settings, run, saver).get_state_history(run_config(run_id, settings)))
    history.reverse()
    rows: list[dict[str, Any]] = []
    previous_next: tuple[str, ...] = ()
    for snap in history:
        created = snap.created_at or ""
        at = datetime.fromisoformat(created) if created else None
        spent = sum(c.cost_usd for c in calls if at is None or c.created_at <= at)
        rows.append(
            {
                "checkpoint_id": snap.config["configurable"]["checkpoint_id"],
                "step": snap.metadata.get("step") if snap.metadata else None,
                "after": ", ".join(previous_next) or None,
                "next": list(snap.next),
                "time": created,
                "done": sorted(snap.values.get("done", [])),
                "cost_usd": round(spent, 6),
            }
        )
        previous_next = tuple(snap.next)
    return rows


@dataclass
class Fork:
    run_id: str
    branch: str
    base_sha: str


def _set_path(data: Any, path: list[str], value: Any) -> None:
    for part in path[:-1]:
        data = data[int(part)] if isinstance(data, list) else data[part]
    last = path[-1]
    if isinstance(data, list):
        data[int(last)] = value
    else:
        data[last] = value


def apply_edits(
    store: Store, run_id: str, values: dict[str, Any], edits: dict[str, Any], drop_tasks: list[str]
) -> dict[str, Any]:
    """New state values: edits (``plan.tasks.0.title=...``) and dropped tasks applied to copies
    of the referenced artifacts, which are stored as the fork's own."""
    values = dict(values)
    contents: dict[str, Any] = {}
    for dotted, value in edits.items():
        key, *rest = dotted.split(".")
        if key not in EDITABLE or not rest:
            raise BadFork(
                run_id,
                f"cannot edit {dotted!r}; edit inside {', '.join(EDITABLE)} (e.g. plan.tasks)",
            )
        if key not in values:
            raise BadFork(run_id, f"the checkpoint has no {key} yet")
        content = contents.setdefault(key, store.get_artifact(values[key]))
        try:
            _set_path(content, rest, value)
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise BadFork(run_id, f"{dotted!r} does not exist in the {key} ({exc})") from None
    if drop_tasks:
        if "plan" not in values:
            raise BadFork(run_id, "the checkpoint has no plan yet")
        plan = contents.setdefault("plan", store.get_artifact(values["plan"]))
        known = {t["id"] for t in plan["tasks"]}
        missing = [t for t in drop_tasks if t not in known]
        if missing:
            raise BadFork(run_id, f"the plan has no task {', '.join(missing)}")
        plan["tasks"] = [t for t in plan["tasks"] if t["id"] not in drop_tasks]
        for t in plan["tasks"]:
            t["depends_on"] = [d for d in t.get("depends_on", []) if d not in drop_tasks]
    for key, content in contents.items():
        try:
            EDITABLE[key].model_validate(content)
        except ValidationError as exc:
            raise BadFork(run_id, f"the edited {key} is invalid: {exc}") from None
        values[key] = content
    return values


def fork_run(
    settings: Settings,
    store: Store,
    run_id: str,
    checkpoint_id: str,
    *,
    edits: dict[str, Any] | None = None,
    drop_tasks: list[str] | None = None,
    model_id: str | None = None,
) -> Fork:
    """Create a new run from a checkpoint of ``run_id``; the caller then executes it."""
    run = store.get_run(run_id)
    project = store.get_project(run.project_id)
    repo = Repo(Path(project.repo_path))
    if not repo.exists():  # the run never needed it; the fork's branch does
        Repo.init(repo.path)
    with open_checkpointer(settings) as saver:
        graph = _graph(settings, run, saver)
        snap = graph.get_state(run_config(run_id, settings, checkpoint_id))
        if not snap.values:
            raise BadFork(run_id, f"no checkpoint {checkpoint_id!r} (see vitco history {run_id})")
        parent = graph.get_state(snap.parent_config) if snap.parent_config else None
        if parent is None or len(parent.next) != 1 or parent.next[0].endswith(MAP_ITEM):
            raise BadFork(
                run_id, "fork from a checkpoint between two steps, not inside parallel tasks"
            )
        as_node = parent.next[0]
        changed = apply_edits(store, run_id, snap.values, edits or {}, drop_tasks or [])
        done = list(snap.values.get("done", []))
        fork_id = new_id("r")
        base = _fork_point(repo, store, run, done)
        branch = f"fork/{fork_id}"
        store.create_run(
            project.id,
            run.brief_id,
            model_id or run.model,
            run.workflow,
            run_id=fork_id,
            branch=branch,
            base_sha=base,
            parent_run_id=run.id,
            fork_checkpoint=checkpoint_id,
        )
        for key in EDITABLE:  # edited artifacts belong to the fork
            if isinstance(changed.get(key), dict):
                changed[key] = store.put_artifact(fork_id, key, changed[key])
        repo.run_tree(fork_id, branch, base)
        _copy_tasks(store, run, fork_id, changed, done)
        changed["run_id"] = fork_id
        graph.update_state(run_config(fork_id, settings), changed, as_node=as_node)
    return Fork(run_id=fork_id, branch=branch, base_sha=base)


def _fork_point(repo: Repo, store: Store, run: Run, done: list[str]) -> str:
    """The commit the original run's branch had when ``done`` were its merged tasks."""
    shas = {t.commit_sha for t in store.tasks(run.id) if t.key in done and t.commit_sha}
    if shas:
        for sha in repo.git("rev-list", "--topo-order", run.branch).splitlines():
            if sha in shas:
                return sha
    return run.base_sha or repo.git("rev-list", "--max-parents=0", run.branch).splitlines()[0]


def _copy_tasks(
    store: Store, run: Run, fork_id: str, values: dict[str, Any], done: list[str]
) -> None:
    if "plan" not in values:
        return
    plan = Plan.model_validate(store.get_artifact(values["plan"]))
    old = {t.key: t for t in store.tasks(run.id)}
    store.add_tasks(
        fork_id,
        [
            {
                "key": t.id,
                "title": t.title,
                "role": t.role,
                "complexity": t.complexity,
                "depends_on": t.depends_on,
                "status": "done" if t.id in done else "pending",
                "attempts": old[t.id].attempts if t.id in done and t.id in old else 0,
                "commit_sha": old[t.id].commit_sha if t.id in done and t.id in old else None,
            }
            for t in plan.tasks
        ],
    )


def parse_assignments(pairs: list[str], run_id: str) -> dict[str, Any]:
    """``key=value`` pairs; values are JSON when they parse as JSON, else plain strings."""
    edits: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise BadFork(run_id, f"--set wants KEY=VALUE, got {pair!r}")
        try:
            edits[key] = json.loads(raw)
        except json.JSONDecodeError:
            edits[key] = raw
    return edits


def edit_in_editor(
    settings: Settings, store: Store, run_id: str, checkpoint_id: str
) -> dict[str, Any]:
    """Open the checkpoint's spec and plan in $EDITOR; the changed ones become edits."""
    import click

    run = store.get_run(run_id)
    with open_checkpointer(settings) as saver:
        snap = _graph(settings, run, saver).get_state(run_config(run_id, settings, checkpoint_id))
    current = {k: store.get_artifact(snap.values[k]) for k in EDITABLE if k in snap.values}
    text = click.edit(json.dumps(current, indent=2), extension=".json")
    if text is None:
        return {}
    try:
        edited = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadFork(run_id, f"the edited JSON does not parse: {exc}") from None
    return {
        f"{k}.{field}": v
        for k, body in edited.items()
        if k in current and body != current[k]
        for field, v in body.items()
    }
