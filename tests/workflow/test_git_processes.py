"""How many git processes a run starts, counted as they start: a ``git`` on ``PATH`` that
logs each call and runs the real one (git's own children, such as a push's ``receive-pack``,
are git's to start, not vitco's, and are not counted).

Each git process is a fork of the worker plus git's own start, about 1.5 ms of CPU: a run of
three tasks started 141 of them (bench/scale.py's ``bench-scale`` workflow; 184 for the demo
with the stand-in toolchain), the larger part of a run's CPU beyond its model calls, which
four workers on two cores contend for (``docs/scaling.md``). The bound is per run, per task
and per extra attempt, so the count cannot creep back: a git process added to a task's steps
shows here as one per task."""

from __future__ import annotations

import os
import shutil
import stat
from collections import Counter
from pathlib import Path

import pytest

from vitco.bootstrap import start_run
from vitco.cli.run import DEMO_BRIEF, DEMO_CASSETTE
from vitco.config import Settings
from vitco.sandbox import Sandbox
from vitco.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("standin_toolchain")]

# what the steps start, enumerated (the demo with the stand-in toolchain starts 103 of the 121
# this allows for its three tasks and one retry; 109 of 127 before the host's merge stopped
# reading again what its opening read, 184 before these bounds): the run's repository made
# (4), the analyst's (3), manager's (1) and devops' (4) views, the host's repository and base
# branch (3), the delivery's tag and archive (4), the report and git's upkeep (2)
PER_RUN = 21
# a task's worktree made and removed (2); the developer's (3), reviewer's (2) and QA's (4)
# views; the tree rebuilt for its tests (2); the commit, its check and the landing (8, and 3
# more when another task landed first: the rebase); the push and the review opened and merged
# on the host (7: the merge reads nothing the opening just read)
PER_TASK = 31
# another attempt: the developer's and reviewer's views again, the tree rebuilt (7)
PER_RETRY = 7


def _counting_git(folder: Path, log: Path) -> None:
    """A ``git`` in ``folder`` that appends its arguments to ``log`` and runs the real git."""
    real = shutil.which("git")
    assert real is not None
    folder.mkdir()
    wrapper = folder / "git"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n', encoding="utf-8")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)


def _subcommand(line: str) -> str:
    words = line.split()
    while words and words[0].startswith("-"):  # --literal-pathspecs, -c name=value, ...
        words = words[2:] if words[0] == "-c" else words[1:]
    return words[0] if words else "?"


def test_a_run_starts_a_bounded_number_of_git_processes_per_task(
    settings: Settings, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "git.log"
    _counting_git(tmp_path / "bin", log)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    report = start_run(
        settings, DEMO_BRIEF, sandbox=sandbox, model_id=f"replay:{DEMO_CASSETTE}"
    ).report
    assert report["status"] == "delivered", report["reason"]
    tasks = open_store(settings).tasks(report["run_id"])
    attempts = sum(t.attempts for t in tasks)
    calls = log.read_text(encoding="utf-8").splitlines()
    assert calls, "the wrapper saw no git process: the count would prove nothing"
    bound = PER_RUN + PER_TASK * len(tasks) + PER_RETRY * (attempts - len(tasks))
    by_command = Counter(_subcommand(c) for c in calls).most_common()
    assert len(calls) <= bound, f"{len(calls)} git processes > {bound}: {by_command}"
