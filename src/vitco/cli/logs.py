"""`vitco logs RUN [--follow]` (a run's whole event stream) and `vitco diff RUN [TASK]` (the code
a run wrote)."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vitco.cli.ids import find_run
from vitco.cli.output import console, emit_json, fail, known_errors, load_settings, store_of
from vitco.cli.status import event_line, event_row

if TYPE_CHECKING:
    from vitco.store import Store
    from vitco.store.models import Event, Run

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
RunArg = Annotated[
    str, typer.Argument(metavar="RUN", help="A run id (r-...) or a unique prefix of one.")
]
LIVE = ("created", "running")  # states a run is still moving out of
POLL_S = 0.5
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's id of the empty tree


def _print_event(e: Event, as_json: bool) -> None:
    if as_json:  # one JSON object per line: readable while it grows
        sys.stdout.write(json.dumps(event_row(e) | {"data": e.data}, default=str) + "\n")
        sys.stdout.flush()
        return
    console.print(event_line(e), highlight=False, markup=False)
    trace = (e.data or {}).get("traceback")
    if trace:
        console.print(str(trace).rstrip(), highlight=False, markup=False, style="dim")


def follow(store: Store, run: Run, as_json: bool, poll_s: float = POLL_S) -> None:
    """Print the run's events as they come until it stops moving (then the last ones)."""
    last = 0
    while True:
        moving = store.get_run(run.id).status in LIVE
        for e in store.events(run.id, after_id=last):
            _print_event(e, as_json)
            last = e.id
        if not moving:
            return
        time.sleep(poll_s)


def code_diff(store: Store, run: Run, task: str | None, stat: bool) -> str:
    """The git diff of what ``run`` committed (one task's commit with ``task``)."""
    from pathlib import Path

    from vitco.integrations.git.repo import Repo
    from vitco.store import NotFound

    repo = Repo(Path(store.get_project(run.project_id).repo_path))
    if not repo.exists():
        return ""  # the run never made its repository: nothing was committed
    options = ["--no-ext-diff", "--no-textconv", "--no-color"] + (["--stat"] if stat else [])
    if task is None:
        return repo.git("diff", *options, run.base_sha or EMPTY_TREE, run.branch, strip=False)
    row = next((t for t in store.tasks(run.id) if t.key == task), None)
    if row is None:
        raise NotFound(f"task of run {run.id}", task)
    if row.commit_sha:
        return repo.git("show", "--format=", *options, row.commit_sha, strip=False)
    branch = f"task/{run.id}/{task}"
    if not repo.git("rev-parse", "--verify", "-q", branch, check=False):
        return ""
    return repo.git("diff", *options, f"{run.branch}...{branch}", strip=False)


def register(app: typer.Typer) -> None:
    @app.command()
    def logs(
        run_id: RunArg,
        follow_: Annotated[
            bool,
            typer.Option("--follow", "-f", help="Keep printing new events until the run stops."),
        ] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="One JSON object per event (JSON Lines).")
        ] = False,
    ) -> None:
        """Every event of a run, oldest first, with tracebacks of errors."""
        settings = load_settings(as_json)
        with known_errors(as_json):
            store = store_of(settings)
            run = store.get_run(store.resolve_id("run", run_id))
            if follow_:
                follow(store, run, as_json)
                return
            for e in store.events(run.id):
                _print_event(e, as_json)

    @app.command()
    def diff(
        run_id: RunArg,
        task: Annotated[
            str | None, typer.Argument(metavar="[TASK]", help="One task's code (e.g. T2).")
        ] = None,
        stat: Annotated[bool, typer.Option("--stat", help="Only the files and counts.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """The code a run wrote: the git diff of its commits (or one task's)."""
        settings = load_settings(as_json)
        with known_errors(as_json):
            store = store_of(settings)
            run = find_run(store, run_id)
            text = _diff_or_fail(store, run, task, stat, as_json)
        if as_json:
            emit_json(_diff_json(run, task, text))
            return
        if console.is_terminal and not stat:
            from rich.syntax import Syntax

            console.print(Syntax(text, "diff", theme="ansi_dark", word_wrap=False))
        else:
            sys.stdout.write(text)
            sys.stdout.flush()


def _diff_or_fail(store: Store, run: Run, task: str | None, stat: bool, as_json: bool) -> str:
    from vitco.integrations.git import RepoError

    try:
        return code_diff(store, run, task, stat)
    except RepoError as exc:
        fail(f"cannot read the code of run {run.id}: {exc}", as_json=as_json)


def _diff_json(run: Run, task: str | None, text: str) -> dict[str, Any]:
    return {"run_id": run.id, "task": task, "branch": run.branch, "diff": text}
