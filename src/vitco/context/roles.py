"""What each role's request holds: one function per role, each returning the named sections
of the user message (``agents.agent.render_sections`` turns them into Markdown).

Every role gets the ``Environment`` section from ``environment`` (the run's date and time
zone, the sandbox, the toolchain's contract). Every section is bounded, so a request stays
under ``MAX_SECTIONS_CHARS`` characters whatever the repository's size (the developer's tool
results add at most ``loop.MAX_RESULTS_CHARS`` to it). Files are read from git's objects plus
the task's stored work (``snapshot``), never from a working tree sandboxed code has written.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from vitco.agents.outputs import Plan, PlanTask, Spec
from vitco.config import Settings
from vitco.context.environment import render_environment, run_clock
from vitco.context.repomap import MAX_MAP_CHARS, repository_map, scanned_sources
from vitco.context.snapshot import Snapshot, normal, task_snapshot, touched
from vitco.context.symbols import is_source, routes, symbols
from vitco.integrations.git.repo import Repo
from vitco.store import Store
from vitco.store.models import Run
from vitco.toolchains import Contract, TestReport, Toolchain, available, get_toolchain

Sections = dict[str, Any]

MAX_FILE_CHARS = 80_000
"""One file shown in full; a longer one is cut, with a note to read on with the tool."""
MAX_FILES_CHARS = 100_000
"""All the files one request shows in full."""
SMALL_REPO_CHARS = 48_000
"""A repository whose text fits in this is shown whole (a new project's first tasks)."""
MAX_DIFF_CHARS = 40_000
MAX_SURFACE_CHARS = 12_000
MAX_README_CHARS = 8_000
MAX_SECTIONS_CHARS = 2 * MAX_FILES_CHARS + MAX_MAP_CHARS + MAX_DIFF_CHARS + 40_000
"""What the sections of one request add up to at most (the spec and the brief included)."""

README_NAMES = ("README.md", "README.rst", "README.txt", "README")
METADATA_NAMES = ("pyproject.toml", "package.json", "requirements.txt", "setup.cfg", "setup.py")
ENTRY_NAMES = ("app.py", "main.py", "__main__.py", "server.py", "wsgi.py", "asgi.py", "cli.py")
ENTRY_JS = ("server.js", "index.js", "app.js", "main.js", "server.ts", "index.ts")


class RunView(Protocol):
    """What the context functions read of a run (``workflow.runtime.Runtime`` is one)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> Store: ...
    @property
    def run_id(self) -> str: ...
    @property
    def repo(self) -> Repo: ...
    @property
    def base(self) -> Repo: ...
    def tree(self, task: str) -> Repo: ...
    def artifact(self, ref: str) -> dict[str, Any]: ...
    def run_row(self) -> Run: ...
    def once(self, run_id: str, key: str, do: Callable[[], dict[str, Any]]) -> dict[str, Any]: ...


# shared pieces ---------------------------------------------------------------------------------


def environment(rt: RunView, toolchain: Toolchain | None = None) -> str:
    """The environment contract (see ``context.environment``) for the run."""
    clock = run_clock(rt, rt.run_id, rt.run_row().created_at)
    return render_environment(clock, toolchain.contract() if toolchain else None)


def toolchain_choices() -> str:
    """The manager's menu: each toolchain's name, what it is for and its contract (how its
    projects are tested and delivered: the deployment contract)."""
    return "\n\n".join(f"### {t.name}\n{t.summary}.\n{t.contract().render()}" for t in available())


def cut(text: str, limit: int, more: str = "") -> str:
    """``text`` in at most about ``limit`` characters, saying what was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... cut: {len(text) - limit} more characters{more}]"


def _fenced(path: str, text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"### {path}\n\n{fence}\n{text.rstrip()}\n{fence}"


def bounded_files(texts: Mapping[str, str], budget: int = MAX_FILES_CHARS) -> str:
    """Files in full as fenced blocks, in the given order, each cut at ``MAX_FILE_CHARS``,
    until ``budget``; later files are named but not shown."""
    shown: dict[str, str] = {}
    left = budget
    for path, text in texts.items():
        if left <= 0:
            shown[path] = "[not shown: the budget of this request is used up; read it]"
            continue
        limit = min(MAX_FILE_CHARS, left)
        lines = text.count("\n") + 1
        shown[path] = cut(text, limit, f"; {lines} lines in all: read from a later line")
        left -= len(shown[path])
    return "\n\n".join(_fenced(p, t) for p, t in shown.items())


def _plan(rt: RunView, state: Mapping[str, Any]) -> Plan:
    return Plan.model_validate(rt.artifact(state["plan"]))


def _spec(rt: RunView, state: Mapping[str, Any]) -> Spec:
    return Spec.model_validate(rt.artifact(state["spec"]))


def _stories(spec: Spec, task: PlanTask) -> list[dict[str, Any]]:
    return [s.model_dump() for s in spec.user_stories if s.id in task.stories]


def _task(task: PlanTask) -> dict[str, Any]:
    return task.model_dump(exclude={"role"})


def task_view(rt: RunView, task: str) -> Snapshot:
    """The task's files: the commit its worktree started from plus its stored work."""
    base = Snapshot.at(rt.repo, rt.tree(task).head())
    return task_snapshot(base, rt.store.artifacts(rt.run_id), task)


def _whole_if_small(view: Snapshot) -> dict[str, str] | None:
    paths = view.paths()
    if sum(max(view.size(p), 0) for p in paths) > SMALL_REPO_CHARS:
        return None
    return view.texts(paths)


def _existing(view: Snapshot) -> bool:
    """Whether the repository holds more than vitco's own first commit (a .gitignore)."""
    return view.paths() not in ([], [".gitignore"])


def _first(view: Snapshot, names: Iterable[str]) -> list[str]:
    """The files of ``view`` named ``names`` at the top, then anywhere (shallowest first)."""
    wanted = set(names)
    found = [p for p in view.paths() if p.rsplit("/", 1)[-1] in wanted]
    return sorted(found, key=lambda p: (p.count("/"), p))


def _attempt(rt: RunView, state: Mapping[str, Any]) -> str:
    attempt, allowed = int(state.get("attempt", 1)), rt.settings.max_attempts
    text = f"This is attempt {attempt} of at most {allowed}."
    return text + (" It is the last attempt." if attempt >= allowed else "")


def _diff(before: Snapshot, after: Snapshot, paths: Iterable[str]) -> str:
    old, new = before.texts(paths), after.texts(paths)
    chunks = []
    for path in paths:
        a, b = old.get(path), new.get(path)
        if a == b:
            continue
        lines = difflib.unified_diff(
            (a or "").splitlines(keepends=True),
            (b or "").splitlines(keepends=True),
            fromfile=f"a/{path}" if a is not None else "/dev/null",
            tofile=f"b/{path}" if b is not None else "/dev/null",
        )
        chunks.append("".join(line if line.endswith("\n") else line + "\n" for line in lines))
    return cut("".join(chunks), MAX_DIFF_CHARS)


def _last_report(rt: RunView, task: str) -> str | None:
    reports = [a for a in rt.store.artifacts(rt.run_id, "test_report") if a.task == task]
    if not reports:
        return None
    return TestReport.model_validate(reports[-1].content).feedback()


def _surface(view: Snapshot, contract: Contract) -> str:
    sources = [p for p in view.paths() if is_source(p) and not contract.is_test_path(p)]
    lines = []
    for path, text in view.texts(sources).items():
        found = symbols(path, text, public=True)
        if found:
            lines.append(f"{path}:\n" + "\n".join(f"  {s}" for s in found))
    return cut("\n".join(lines), MAX_SURFACE_CHARS)


# the roles -----------------------------------------------------------------------------------


def analyst(rt: RunView) -> Sections:
    """The brief; for existing code (add-feature, fix-bug) the code itself when it is small,
    otherwise its repository map and README. At most ~2 files' budget plus the map."""
    run = rt.run_row()
    view = Snapshot.at(rt.base, "HEAD")
    sections: Sections = {
        "Environment": environment(rt),
        "Brief": rt.store.get_brief(run.brief_id).text,
    }
    if _existing(view):
        whole = _whole_if_small(view)
        if whole is not None:
            sections["Existing code"] = whole
        else:
            sections["Repository map"] = repository_map(view)
            sections["README"] = cut(_readme(view), MAX_README_CHARS)
    return sections


def _readme(view: Snapshot) -> str:
    found = [p for p in view.paths() if p in README_NAMES]
    return (view.text(found[0]) or "") if found else ""


def manager(rt: RunView, state: Mapping[str, Any]) -> Sections:
    """The specification, the environment, the toolchains with their deployment contracts,
    and the repository map of existing code (at most ``MAX_MAP_CHARS``)."""
    view = Snapshot.at(rt.base, "HEAD")
    return {
        "Specification": rt.artifact(state["spec"]),
        "Environment": environment(rt),
        "Toolchains": toolchain_choices(),
        "Repository map": repository_map(view) if _existing(view) else None,
    }


def developer(
    rt: RunView, state: Mapping[str, Any], feedback: str | None, view: Snapshot | None = None
) -> Sections:
    """The task and its stories, the environment (how tests run, the Python version and
    packages, how the app is started and checked), the repository map, the files the task
    names and those it already changed in full (the whole repository when it is small; at most
    ``MAX_FILES_CHARS``), the attempt, and what the previous attempt must fix. ``view`` is the
    task's ``task_view`` when the caller has it already (the implement step shows the same one
    to the developer's tools)."""
    spec, plan = _spec(rt, state), _plan(rt, state)
    task = plan.task(state["task"])
    view = view if view is not None else task_view(rt, task.id)
    named = [normal(p) for p in task.files]
    mine = touched(rt.store.artifacts(rt.run_id), task.id)
    whole = _whole_if_small(view)
    texts = whole if whole is not None else view.texts([*named, *mine])
    order = [p for p in dict.fromkeys([*named, *mine, *texts]) if p in texts]
    return {
        "Task": _task(task),
        "User stories": _stories(spec, task),
        "Environment": environment(rt, get_toolchain(plan.toolchain)),
        "Repository map": repository_map(view, first=named) if whole is None else None,
        "Files": bounded_files({p: texts[p] for p in order}),
        "Missing files the task names": [p for p in named if not view.exists(p)] or None,
        "Attempt": _attempt(rt, state),
        "Previous attempt": feedback,
    }


def reviewer(rt: RunView, state: Mapping[str, Any]) -> Sections:
    """The task, the acceptance criteria of its stories, the attempt (and whether it is the
    last), the diff of all the task's changes against the commit it started from (at most
    ``MAX_DIFF_CHARS``), the full text of the files it touches (at most ``MAX_FILES_CHARS``)
    and the last test output (none before the first test run)."""
    spec, plan = _spec(rt, state), _plan(rt, state)
    task = plan.task(state["task"])
    base = Snapshot.at(rt.repo, rt.tree(task.id).head())
    artifacts = rt.store.artifacts(rt.run_id)
    view = task_snapshot(base, artifacts, task.id)
    paths = touched(artifacts, task.id)
    criteria = {s.id: s.acceptance_criteria for s in spec.user_stories if s.id in task.stories}
    return {
        "Task": _task(task),
        "Acceptance criteria": criteria,
        "Environment": environment(rt, get_toolchain(plan.toolchain)),
        "Attempt": _attempt(rt, state),
        "Diff against the base": _diff(base, view, paths),
        "Files it touches": bounded_files(view.texts(paths)),
        "Last test output": _last_report(rt, task.id)
        or "No test run yet: QA's tests run after your review.",
    }


def qa(rt: RunView, state: Mapping[str, Any]) -> Sections:
    """The task and its stories, the environment, the existing test files (the developer's
    ones named as such, not to be overwritten), the public surface of the code (module ->
    top-level functions and classes with signatures, at most ``MAX_SURFACE_CHARS``) and the
    diff of the change under test (at most ``MAX_DIFF_CHARS``)."""
    spec, plan = _spec(rt, state), _plan(rt, state)
    task = plan.task(state["task"])
    contract = get_toolchain(plan.toolchain).contract()
    base = Snapshot.at(rt.repo, rt.tree(task.id).head())
    artifacts = rt.store.artifacts(rt.run_id)
    view = task_snapshot(base, artifacts, task.id)
    paths = touched(artifacts, task.id)
    tests = [p for p in view.paths() if contract.is_test_path(p)]
    theirs = [p for p in paths if contract.is_test_path(p)]
    return {
        "Task": _task(task),
        "User stories": _stories(spec, task),
        "Environment": environment(rt, get_toolchain(plan.toolchain)),
        "Public surface of the code": _surface(view, contract),
        "Existing test files": bounded_files(view.texts(tests), MAX_FILES_CHARS // 2),
        "The developer's test files (keep them: write yours under other names)": theirs or None,
        "Change under test": _diff(base, view, [p for p in paths if p not in theirs]),
    }


PERSISTENT = (
    "the specification asks for data that survives a restart: set persistent_data and say in "
    "after_restart how to read back what the smoke requests wrote"
)


def devops(rt: RunView, state: Mapping[str, Any]) -> Sections:
    """What is there to start: the project's summary, the environment (with the deployment
    contract), the README, the project metadata, the entry modules with what they declare,
    the routes found statically in the code and the repository map; each bounded."""
    spec, plan = _spec(rt, state), _plan(rt, state)
    view = Snapshot.at(rt.base, "HEAD")
    texts = scanned_sources(view)
    found = [f"{p}: {r}" for p, t in texts.items() for r in routes(p, t)]
    entries = _first(view, ENTRY_NAMES + ENTRY_JS)[:6]
    entry_texts = view.texts(entries)
    return {
        "Project": spec.summary,
        "Persistent data": PERSISTENT if spec.persistent_data else None,
        "Environment": environment(rt, get_toolchain(plan.toolchain)),
        "README": cut(_readme(view), MAX_README_CHARS) or None,
        "Project metadata": bounded_files(view.texts(_first(view, METADATA_NAMES)[:4]), 12_000),
        "Entry modules": bounded_files(entry_texts, 24_000),
        "Routes found in the code": cut("\n".join(found), 8_000) or None,
        "Repository map": repository_map(view, first=entries),
    }
