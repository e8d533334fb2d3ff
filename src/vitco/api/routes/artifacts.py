"""What a run produced: the repository as ``.tar.gz``, the delivery report, the mails it sent
(the delivery mail on its own too), the log, and the typed outputs of its steps (spec, plan,
test reports, reviews...).

Nothing here opens a path sandboxed code can write. The repository is archived from git's
objects, never the working tree (``vitco.integrations.git.archive``: regular files only, no
links); the mails are read from vitco's own outbox by file name, without following a link; the
report names where the API serves the repository and the mail instead of the host's paths.
"""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path, PurePosixPath
from tempfile import SpooledTemporaryFile
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from vitco.api.deps import CallerDep, Ctx
from vitco.api.exceptions import Conflict
from vitco.api.paging import fresh, tagged, tagged_bytes
from vitco.api.schemas import ArtifactPublic, ItemsPublic, MailPublic, ReportPublic
from vitco.integrations.git import RepoError
from vitco.integrations.git.archive import archive_prefix, write_archive
from vitco.integrations.git.repo import Repo
from vitco.integrations.storage import ArtifactNotFound
from vitco.store.exceptions import NotFound
from vitco.store.models import Event
from vitco.workspace.paths import read_inside

router = APIRouter(prefix="/v1", tags=["artifacts"])

Kind = Literal[
    "spec",
    "plan",
    "test_report",
    "spec_critique",
    "review",
    "qa",
    "ruling",
    "amendment",
    "changeset",
    "merge_conflict",
]
"""The outputs a client may read (deployments and mails carry host paths: see the report)."""
SPOOL_BYTES = 8 * 1024 * 1024  # an archive larger than this is spooled to a temporary file
CHUNK = 64 * 1024


def _binary(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {media_type: {}}, "description": description}}


def report_of(ctx: Ctx, run_id: str) -> dict[str, Any]:
    """The run's report with the API's addresses in place of the host's paths."""
    from vitco.workflow.report import run_report

    report = run_report(ctx.store, run_id)
    report["repo"] = f"/v1/runs/{run_id}/repo"
    report["mail"] = f"/v1/runs/{run_id}/mail" if report.get("mail") else None
    if report.get("delivery"):
        files = report["delivery"].get("artifacts") or []
        report["delivery"]["artifacts"] = [PurePosixPath(str(f)).name for f in files]
    return report


@router.get("/runs/{run_id}/report", response_model=ReportPublic)
def report(request: Request, run_id: str, caller: CallerDep, ctx: Ctx) -> Response:
    """The delivery report: status, tasks, tests, delivery, cost (so far, for a live run)."""
    run = ctx.access.run(caller.tenant_id, run_id)
    return tagged(request, ReportPublic.model_validate(report_of(ctx, run.id)))


@router.get("/runs/{run_id}/artifacts", response_model=ItemsPublic[ArtifactPublic])
def artifacts(
    request: Request,
    run_id: str,
    caller: CallerDep,
    ctx: Ctx,
    kind: Annotated[
        list[Kind] | None, Query(max_length=10, description="Only these kinds.")
    ] = None,
) -> Response:
    """The typed outputs of the run's steps, oldest first."""
    run = ctx.access.run(caller.tenant_id, run_id)
    wanted = set(kind or get_args(Kind))
    rows = [a for a in ctx.store.artifacts(run.id) if a.kind in wanted]
    return tagged(request, {"items": rows}, ItemsPublic[ArtifactPublic])


def _stored_repo(ctx: Ctx, tenant_id: str, run_id: str) -> tuple[bytes, str] | None:
    """The tarball the deliver step kept in the artifact store, with its commit; None when
    there is none (a run not delivered, no store), and then the API archives the branch."""
    stored = ctx.store.artifacts(run_id, "stored")
    if ctx.artifacts is None or not stored:
        return None
    key, commit = str(stored[-1].content.get("key", "")), str(stored[-1].content.get("commit"))
    if not key.startswith(f"{tenant_id}/{run_id}/"):  # only this tenant's, this run's
        return None
    try:
        return ctx.artifacts.get(key), commit
    except ArtifactNotFound:
        return None


@router.get(
    "/runs/{run_id}/repo",
    response_class=Response,
    responses=_binary("application/gzip", "The run's branch as a gzipped tar."),
)
def repo(request: Request, run_id: str, caller: CallerDep, ctx: Ctx) -> Response:
    """The repository as the run left it (its branch), a ``.tar.gz`` of the commit's regular
    files under one folder named after the project; ``X-Vitco-Commit`` names the commit. A
    delivered run's is the one its deliver step kept, read from the artifact store."""
    run = ctx.access.run(caller.tenant_id, run_id)
    project = ctx.store.get_project(run.project_id)
    slug = archive_prefix(project.name, project.id)
    name = f'attachment; filename="{slug}-{run.id}.tar.gz"'
    delivered = _stored_repo(ctx, caller.tenant_id, run.id)
    if delivered is not None:
        data, commit = delivered
        headers = {"ETag": f'"{commit}"', "X-Vitco-Commit": commit, "Content-Disposition": name}
        if fresh(request, headers["ETag"]):
            return Response(status_code=304, headers={"ETag": headers["ETag"]})
        return Response(data, media_type="application/gzip", headers=headers)
    git = Repo(Path(project.repo_path))
    if not git.exists():
        raise Conflict(f"run {run.id} has no repository to download: none was made yet")
    try:
        commit = git.head(run.branch)
    except (RepoError, OSError) as exc:
        raise Conflict(f"run {run.id} has no repository to download: {exc}") from exc
    headers = {"ETag": f'"{commit}"', "X-Vitco-Commit": commit, "Content-Disposition": name}
    if fresh(request, headers["ETag"]):
        return Response(status_code=304, headers={"ETag": headers["ETag"]})
    spool = SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed after sending)
    try:
        write_archive(git, commit, spool, prefix=slug)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return StreamingResponse(
        iter(lambda: spool.read(CHUNK), b""),
        media_type="application/gzip",
        headers=headers,
        background=BackgroundTask(spool.close),
    )


@router.get(
    "/runs/{run_id}/mail",
    response_class=Response,
    responses=_binary("message/rfc822", "The delivery mail, as sent."),
)
def mail(request: Request, run_id: str, caller: CallerDep, ctx: Ctx) -> Response:
    """The delivery mail the run sent the client (RFC 5322); 404 before there is one."""
    run = ctx.access.run(caller.tenant_id, run_id)
    sent = ctx.store.artifacts(run.id, "mail")
    name = PurePosixPath(str(sent[-1].content.get("path", ""))).name if sent else ""
    data = read_inside(ctx.settings.outbox_dir, name) if name else None
    if data is None:
        raise NotFound(f"mail of run {run.id}", run.id)
    return tagged_bytes(request, data, "message/rfc822")


def _mails(ctx: Ctx, run_id: str) -> list[tuple[datetime, bytes]]:
    """(when, bytes) of each mail the run sent that the outbox still holds, oldest first;
    read by file name from vitco's own outbox, never following a link."""
    found = []
    for at, path in ctx.store.sent_mails(run_id):
        data = read_inside(ctx.settings.outbox_dir, PurePosixPath(path).name)
        if data is not None:
            found.append((at, data))
    return found


@router.get("/runs/{run_id}/mails", response_model=ItemsPublic[MailPublic])
def mails(request: Request, run_id: str, caller: CallerDep, ctx: Ctx) -> Response:
    """Every mail the run sent the client, oldest first: the notices (brief accepted, plan
    ready, attention needed), the invoice and the delivery mail."""
    run = ctx.access.run(caller.tenant_id, run_id)
    items = [
        MailPublic(
            n=n,
            sent_at=at,
            subject=str(BytesHeaderParser(policy=policy.default).parsebytes(data)["subject"] or ""),
            url=f"/v1/runs/{run.id}/mails/{n}",
        )
        for n, (at, data) in enumerate(_mails(ctx, run.id), 1)
    ]
    return tagged(request, {"items": items}, ItemsPublic[MailPublic])


@router.get(
    "/runs/{run_id}/mails/{n}",
    response_class=Response,
    responses=_binary("message/rfc822", "The run's n-th mail, as sent."),
)
def mail_at(
    request: Request,
    run_id: str,
    n: Annotated[int, PathParam(ge=1, le=10_000)],
    caller: CallerDep,
    ctx: Ctx,
) -> Response:
    """The run's ``n``-th mail (RFC 5322), as listed by ``GET /v1/runs/{run_id}/mails``."""
    run = ctx.access.run(caller.tenant_id, run_id)
    sent = _mails(ctx, run.id)
    if n > len(sent):
        raise NotFound(f"mail {n} of run {run.id}", str(n))
    return tagged_bytes(request, sent[n - 1][1], "message/rfc822")


def log_line(e: Event) -> str:
    """One event as a line of the run's log (a traceback follows, indented)."""
    where = f"[{e.task}] " if e.task else ""
    line = f"{e.ts:%Y-%m-%d %H:%M:%S} {e.kind:<8} {where}{e.message}"
    trace = (e.data or {}).get("traceback")
    if trace:
        line += "\n" + "\n".join(f"    {t}" for t in str(trace).rstrip().splitlines())
    return line


@router.get(
    "/runs/{run_id}/logs",
    response_class=Response,
    responses=_binary("text/plain", "The run's log, one event a line."),
)
def logs(request: Request, run_id: str, caller: CallerDep, ctx: Ctx) -> Response:
    """The run's log: every event, oldest first, with the tracebacks of errors."""
    run = ctx.access.run(caller.tenant_id, run_id)
    text = "".join(log_line(e) + "\n" for e in ctx.store.events(run.id))
    return tagged_bytes(request, text.encode(), "text/plain; charset=utf-8")
