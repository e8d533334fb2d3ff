"""``/v1/runs/{id}/commits``: the commits a run made on its branch, oldest first, each with
its message and diff (what the dashboard shows under a run).

Read from git's objects (``git show`` of each commit between the run's base and its branch),
never from the working tree, with the repository guards of ``vitco.integrations.git.repo``
(no hooks, no external diff) and no textconv: a model wrote these files. A diff longer than
``MAX_DIFF_CHARS`` is cut (``truncated``), and the newest ``MAX_COMMITS`` are answered; git
writes one line for a binary file.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response

from vitco.api.deps import CallerDep, Ctx
from vitco.api.paging import tagged
from vitco.api.schemas import CommitPublic, ItemsPublic
from vitco.integrations.git import RepoError
from vitco.integrations.git.repo import Repo

router = APIRouter(prefix="/v1", tags=["artifacts"])

MAX_COMMITS = 100
MAX_DIFF_CHARS = 200_000
SEP = "\x1f"


@router.get("/runs/{run_id}/commits", response_model=ItemsPublic[CommitPublic])
def commits(request: Request, run_id: str, caller: CallerDep, ctx: Ctx) -> Response:
    """The run's commits on its branch, oldest first, each with its diff (cut when long)."""
    run = ctx.access.run(caller.tenant_id, run_id)
    project = ctx.store.get_project(run.project_id)
    git = Repo(Path(project.repo_path))
    span = f"{run.base_sha}..{run.branch}" if run.base_sha else run.branch
    try:
        shas = git.git("rev-list", f"--max-count={MAX_COMMITS}", span).split()
    except (RepoError, OSError):  # no branch yet (a queued run), or the repository is gone
        shas = []
    items = []
    for sha in reversed(shas):
        head = git.git("show", "-s", f"--format=%H{SEP}%aI{SEP}%B", sha)
        full, when, message = [*head.split(SEP, 2), "", ""][:3]
        diff = git.git(
            "show", "--format=", "--patch", "--stat", "--no-ext-diff", "--no-textconv",
            "--no-color", sha, strip=False,
        )  # fmt: skip
        items.append(
            CommitPublic(
                sha=full,
                committed_at=when,
                message=message.strip(),
                diff=diff[:MAX_DIFF_CHARS],
                truncated=len(diff) > MAX_DIFF_CHARS,
            )
        )
    return tagged(request, {"items": items}, ItemsPublic[CommitPublic])
