"""Publishing a run's work on the git host: one reviewed, merged branch per task.

For each merged task the commit step calls :func:`publish_task`: the project's repository on
the host is made once (``Store.once``), the run's base branch is pushed once before the first
task lands on it, then the task's branch is pushed, a review (merge request) is opened with the
reviewer's verdict as its body and merged by the host. Integrating a task and publishing it
happen under one lock per repository, so the host sees the tasks in the order they landed.
Each call is idempotent on both sides (``Store.once`` here, the host's own lookups there), so a
step resumed after a crash never opens a second review. :func:`comment_delivery` comments on
the issue the run came from (a GitHub issue labelled ``vitco``: its brief's source names it).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vitco.agents.outputs import Review as ReviewOutput
from vitco.integrations.git.exceptions import HostRefused, UnsafeName
from vitco.integrations.git.host import GitHost, branch_ref, check_full_name, slug
from vitco.workflow.runtime import Runtime

_ISSUE = re.compile(r"github ([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)#(\d{1,12})")
_locks: dict[Path, threading.Lock] = {}
_guard = threading.Lock()


@contextmanager
def landing(rt: Runtime) -> Iterator[None]:
    """Held while a task is integrated and published: one at a time per repository."""
    with _guard:
        lock = _locks.setdefault(rt.repo_path.resolve(), threading.Lock())
    with lock:
        yield


def repo_name(rt: Runtime) -> str:
    """The project's repository on the host: its name made safe, and its id (unique)."""
    project = rt.client_project()  # its name and id: they never change
    return f"{slug(project.name)[:40]}-{slug(project.id, 'p')}"


def _hosted(rt: Runtime, host: GitHost) -> dict[str, Any]:
    name = repo_name(rt)
    project = rt.client_project()
    return rt.once(
        rt.run_id,
        f"githost/{rt.project_id}/repo",
        lambda: host.ensure_repo(name, project.name).model_dump(),
    )


def prepare_base(rt: Runtime) -> None:
    """Before the first task lands: the host holds the run's base branch as it is now."""
    host = rt.git_host
    if host is None:
        return
    hosted = _hosted(rt, host)
    key = f"githost/{rt.project_id}/base/{rt.branch}"

    def push() -> dict[str, Any]:
        host.push(rt.base, hosted["name"], [branch_ref(rt.branch)])
        return {"branch": rt.branch, "sha": rt.base.head()}

    rt.store.once(rt.run_id, key, push)


def review_body(rt: Runtime, state: dict[str, Any], title: str) -> str:
    """The review's text: the task, the reviewer's verdict and reasons (model-written text,
    quoted as it is; the host renders it as text or markdown of its own)."""
    lines = [f"Task {state['task']}: {title}", ""]
    if state.get("review"):
        review = ReviewOutput.model_validate(rt.store.get_artifact(state["review"]))
        lines.append(f"Reviewer: {review.verdict.replace('_', ' ')}")
        lines.extend(f"- {reason}" for reason in review.reasons)
    else:
        lines.append("Reviewer: no review recorded")
    lines += ["", f"vitco run {rt.run_id}"]
    return "\n".join(lines)


def publish_task(rt: Runtime, state: dict[str, Any], title: str, sha: str) -> None:
    """Push task ``state['task']``'s branch, open its review and merge it (see the module)."""
    host = rt.git_host
    if host is None:
        return
    task_id = state["task"]
    hosted = _hosted(rt, host)
    branch = f"task/{rt.run_id}/{task_id}"

    def review() -> dict[str, Any]:
        host.push(rt.repo, hosted["name"], [branch_ref(branch)])
        body = review_body(rt, state, title)
        try:
            opened = host.open_review(
                hosted["name"], branch=branch, base=rt.branch, title=f"{task_id}: {title}",
                body=body,
            )  # fmt: skip
        except HostRefused as exc:
            if exc.status != 422:
                raise
            # nothing to review: another task's review already brought this work to the base
            return {"number": None, "merged": True, "detail": exc.message}
        rt.fault("mid-publish")  # the review is open on the host, not yet merged nor recorded
        merged = host.merge_review(hosted["name"], opened.number)
        return merged.model_dump()

    done = rt.store.once(rt.run_id, f"githost/{rt.run_id}/{task_id}/review", review)
    what = f"review #{done['number']}" if done.get("number") else "no review (already on base)"
    url = done.get("url")
    if url and not str(url).startswith(("https://", "http://")):  # the local host's file URL
        url = rt.public(str(url).removeprefix("file://"))
    rt.emit(
        "review",
        f"{task_id} published on {hosted['name']}: {what} merged into {rt.branch}",
        step="commit",
        task=task_id,
        data={
            "repo": hosted["name"],
            "review": done.get("number"),
            "url": url,
            "commit": sha,
        },
    )


def issue_of(source: str) -> tuple[str, int] | None:
    """The GitHub issue a brief came from (``github owner/repo#N``), if it did."""
    match = _ISSUE.fullmatch(source)
    if match is None:
        return None
    try:
        check_full_name(match.group(1))
    except UnsafeName:
        return None
    return match.group(1), int(match.group(2))


def comment_delivery(rt: Runtime, source: str, text: Callable[[str], str]) -> str | None:
    """Comment ``text(repository url)`` on the issue the run came from, once; its URL."""
    host = rt.git_host
    issue = issue_of(source)
    if host is None or issue is None:
        return None
    hosted = _hosted(rt, host)
    repo, number = issue

    def post() -> dict[str, Any]:
        return host.comment(repo, number, text(str(hosted["web_url"]))).model_dump()

    done = rt.store.once(rt.run_id, f"githost/{rt.run_id}/comment", post)
    rt.emit("comment", f"commented on {repo}#{number}", step="deliver", data={"url": done["url"]})
    return str(done["url"])
