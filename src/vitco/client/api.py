"""``VitcoClient``: one method per operation of ``vitco serve``'s OpenAPI document, answering
the API's own schemas (``vitco.api.schemas``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, Self

import httpx

from vitco.api.schemas import (
    ArtifactPublic,
    AuditPublic,
    BudgetPublic,
    CheckpointPublic,
    CommitPublic,
    CostsPublic,
    EventPage,
    ItemsPublic,
    KeyCreated,
    KeyPublic,
    LivePage,
    MailPublic,
    Me,
    PagePublic,
    ProjectPublic,
    ReportPublic,
    RunPublic,
    TaskPublic,
    UserPublic,
)
from vitco.client.deployments import DeploymentMethods
from vitco.client.transport import M, Transport, operation
from vitco.client.webhooks import WebhookMethods

MOVING = frozenset({"queued", "running", "created"})
"""Statuses a run leaves by itself; ``wait`` returns at any other."""
By = Literal["project", "run", "role", "tier", "model", "day"]


class VitcoClient(DeploymentMethods, WebhookMethods):
    """A client of one server with one API key (see ``vitco.client``)."""

    def __init__(self, http: httpx.Client, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.transport = Transport(http, sleep=sleep)
        self.sleep = sleep

    @classmethod
    def connect(cls, url: str, key: str | None, *, timeout: float = 60.0) -> Self:
        """A client of the server at ``url`` (``http://host:port``) with ``key``."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return cls(httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout))

    def close(self) -> None:
        self.transport.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, model: type[M], path: str, **params: Any) -> M:
        return self.transport.model(model, "GET", path, params=params)

    # the server --------------------------------------------------------------------------------

    @operation("GET /v1/health")
    def health(self) -> dict[str, str]:
        answer: dict[str, str] = self.transport.request("GET", "/v1/health").json()
        return answer

    @operation("GET /v1/me")
    def me(self) -> Me:
        return self._get(Me, "/v1/me")

    # projects ----------------------------------------------------------------------------------

    @operation("GET /v1/projects")
    def projects(
        self,
        *,
        state: Literal["active", "archived", "all"] = "active",
        name: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        id_prefix: str | None = None,
    ) -> PagePublic[ProjectPublic]:
        model = PagePublic[ProjectPublic]
        params = {"state": state, "name": name, "limit": limit, "cursor": cursor}
        return self._get(model, "/v1/projects", **params, id_prefix=id_prefix)

    @operation("POST /v1/projects")
    def create_project(
        self, brief: str, *, source: str = "api", budget_usd: float | None = None
    ) -> ProjectPublic:
        body = {"brief": brief, "source": source, "budget_usd": budget_usd}
        return self.transport.model(ProjectPublic, "POST", "/v1/projects", json=body)

    @operation("GET /v1/projects/{project_id}")
    def project(self, project_id: str) -> ProjectPublic:
        return self._get(ProjectPublic, f"/v1/projects/{project_id}")

    @operation("POST /v1/projects/{project_id}/archive")
    def archive_project(self, project_id: str) -> ProjectPublic:
        return self.transport.model(ProjectPublic, "POST", f"/v1/projects/{project_id}/archive")

    # runs --------------------------------------------------------------------------------------

    @operation("POST /v1/projects/{project_id}/runs")
    def start_run(
        self,
        project_id: str,
        *,
        workflow: str = "deliver-project",
        model: str | None = None,
        budget_usd: float | None = None,
    ) -> RunPublic:
        body = {"workflow": workflow, "model": model, "budget_usd": budget_usd}
        path = f"/v1/projects/{project_id}/runs"
        return self.transport.model(RunPublic, "POST", path, json=body)

    @operation("GET /v1/runs")
    def runs(
        self,
        *,
        project_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        id_prefix: str | None = None,
    ) -> PagePublic[RunPublic]:
        params = {"project_id": project_id, "status": status, "limit": limit, "cursor": cursor}
        return self._get(PagePublic[RunPublic], "/v1/runs", **params, id_prefix=id_prefix)

    @operation("GET /v1/runs/{run_id}")
    def run(self, run_id: str) -> RunPublic:
        return self._get(RunPublic, f"/v1/runs/{run_id}")

    def _act(self, run_id: str, action: str, body: Any = None) -> RunPublic:
        return self.transport.model(RunPublic, "POST", f"/v1/runs/{run_id}/{action}", json=body)

    @operation("POST /v1/runs/{run_id}/cancel")
    def cancel(self, run_id: str) -> RunPublic:
        return self._act(run_id, "cancel")

    @operation("POST /v1/runs/{run_id}/resume")
    def resume(self, run_id: str) -> RunPublic:
        return self._act(run_id, "resume")

    @operation("POST /v1/runs/{run_id}/approve")
    def approve(self, run_id: str, reason: str | None = None) -> RunPublic:
        return self._act(run_id, "approve", {"reason": reason})

    @operation("POST /v1/runs/{run_id}/reject")
    def reject(self, run_id: str, reason: str | None = None) -> RunPublic:
        return self._act(run_id, "reject", {"reason": reason})

    @operation("POST /v1/runs/{run_id}/fork")
    def fork(
        self,
        run_id: str,
        at: str | int,
        *,
        edits: dict[str, Any] | None = None,
        drop_tasks: list[str] | None = None,
        model: str | None = None,
    ) -> RunPublic:
        body = {"at": str(at), "edits": edits or {}, "drop_tasks": drop_tasks or []}
        return self._act(run_id, "fork", body | {"model": model})

    def wait(self, run_id: str, *, timeout: float = 600.0, poll_s: float = 0.5) -> RunPublic:
        """The run once it stops moving (delivered, at a gate, failed...); ``TimeoutError``
        if it still moves after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if run.status not in MOVING:
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} is still {run.status} after {timeout:.0f} s")
            self.sleep(poll_s)

    @operation("GET /v1/runs/{run_id}/history")
    def history(self, run_id: str) -> list[CheckpointPublic]:
        path = f"/v1/runs/{run_id}/history"
        return self._get(ItemsPublic[CheckpointPublic], path).items

    @operation("GET /v1/runs/{run_id}/tasks")
    def tasks(self, run_id: str) -> list[TaskPublic]:
        return self._get(ItemsPublic[TaskPublic], f"/v1/runs/{run_id}/tasks").items

    @operation("GET /v1/runs/{run_id}/events")
    def events(
        self,
        run_id: str,
        *,
        since: int = 0,
        limit: int = 100,
        kind: list[str] | None = None,
        step: str | None = None,
        task: str | None = None,
    ) -> EventPage:
        params = {"since": since, "limit": limit, "kind": kind, "step": step, "task": task}
        return self._get(EventPage, f"/v1/runs/{run_id}/events", **params)

    def all_events(self, run_id: str, *, since: int = 0) -> Iterator[Any]:
        """Every event of the run after ``since``, page after page."""
        while True:
            page = self.events(run_id, since=since, limit=200)
            yield from page.items
            since = page.next_since
            if not page.more:
                return

    @operation("GET /v1/events")
    def tenant_events(
        self,
        *,
        since: int = 0,
        limit: int = 100,
        project_id: str | None = None,
        run_id: str | None = None,
    ) -> LivePage:
        """A page of the tenant's events (or one project's or run's) after ``since``; the
        same URL streams them live (WebSocket, or SSE with ``Accept: text/event-stream``)."""
        params = {"since": since, "limit": limit, "project_id": project_id, "run_id": run_id}
        return self._get(LivePage, "/v1/events", **params)

    # what a run produced -----------------------------------------------------------------------

    @operation("GET /v1/runs/{run_id}/report")
    def report(self, run_id: str) -> ReportPublic:
        return self._get(ReportPublic, f"/v1/runs/{run_id}/report")

    @operation("GET /v1/runs/{run_id}/artifacts")
    def artifacts(self, run_id: str, *, kind: list[str] | None = None) -> list[ArtifactPublic]:
        path = f"/v1/runs/{run_id}/artifacts"
        return self._get(ItemsPublic[ArtifactPublic], path, kind=kind).items

    @operation("GET /v1/runs/{run_id}/repo")
    def repo_archive(self, run_id: str) -> bytes:
        """The run's repository as a ``.tar.gz`` (regular files of its branch's commit)."""
        return self.transport.request("GET", f"/v1/runs/{run_id}/repo").content

    def download_repo(self, run_id: str, target: Path) -> Path:
        """Write the run's repository archive to ``target``."""
        target.write_bytes(self.repo_archive(run_id))
        return target

    @operation("GET /v1/runs/{run_id}/mail")
    def mail(self, run_id: str) -> bytes:
        """The delivery mail, RFC 5322 bytes (``email.message_from_bytes`` reads it)."""
        return self.transport.request("GET", f"/v1/runs/{run_id}/mail").content

    @operation("GET /v1/runs/{run_id}/mails")
    def mails(self, run_id: str) -> list[MailPublic]:
        """Every mail the run sent the client, oldest first (notices, invoice, delivery)."""
        return self._get(ItemsPublic[MailPublic], f"/v1/runs/{run_id}/mails").items

    @operation("GET /v1/runs/{run_id}/mails/{n}")
    def mail_at(self, run_id: str, n: int) -> bytes:
        """The run's ``n``-th mail (from 1, as ``mails`` lists them), RFC 5322 bytes."""
        return self.transport.request("GET", f"/v1/runs/{run_id}/mails/{int(n)}").content

    @operation("GET /v1/runs/{run_id}/commits")
    def commits(self, run_id: str) -> list[CommitPublic]:
        """The run's commits, oldest first, each with its diff."""
        return self._get(ItemsPublic[CommitPublic], f"/v1/runs/{run_id}/commits").items

    @operation("GET /v1/runs/{run_id}/logs")
    def logs(self, run_id: str) -> str:
        return self.transport.request("GET", f"/v1/runs/{run_id}/logs").text

    # money -------------------------------------------------------------------------------------

    @operation("GET /v1/costs")
    def costs(
        self, *, by: By = "role", project_id: str | None = None, run_id: str | None = None
    ) -> CostsPublic:
        return self._get(CostsPublic, "/v1/costs", by=by, project_id=project_id, run_id=run_id)

    @operation("GET /v1/projects/{project_id}/budget")
    def budget(self, project_id: str) -> BudgetPublic:
        return self._get(BudgetPublic, f"/v1/projects/{project_id}/budget")

    @operation("PUT /v1/projects/{project_id}/budget")
    def set_budget(self, project_id: str, budget_usd: float) -> BudgetPublic:
        path = f"/v1/projects/{project_id}/budget"
        return self.transport.model(BudgetPublic, "PUT", path, json={"budget_usd": budget_usd})

    @operation("DELETE /v1/projects/{project_id}/budget")
    def clear_budget(self, project_id: str) -> BudgetPublic:
        return self.transport.model(BudgetPublic, "DELETE", f"/v1/projects/{project_id}/budget")

    # the tenant --------------------------------------------------------------------------------

    @operation("GET /v1/keys")
    def keys(self, *, limit: int = 50, cursor: str | None = None) -> PagePublic[KeyPublic]:
        return self._get(PagePublic[KeyPublic], "/v1/keys", limit=limit, cursor=cursor)

    @operation("POST /v1/keys")
    def create_key(
        self,
        role: str,
        *,
        name: str = "",
        user_id: str | None = None,
        expires_in_days: float | None = None,
    ) -> KeyCreated:
        body = {"role": role, "name": name, "user_id": user_id, "expires_in_days": expires_in_days}
        return self.transport.model(KeyCreated, "POST", "/v1/keys", json=body)

    @operation("DELETE /v1/keys/{key_id}")
    def revoke_key(self, key_id: str) -> KeyPublic:
        return self.transport.model(KeyPublic, "DELETE", f"/v1/keys/{key_id}")

    @operation("GET /v1/users")
    def users(self, *, limit: int = 50, cursor: str | None = None) -> PagePublic[UserPublic]:
        return self._get(PagePublic[UserPublic], "/v1/users", limit=limit, cursor=cursor)

    @operation("POST /v1/users")
    def create_user(self, email: str, role: str, *, name: str = "") -> UserPublic:
        body = {"email": email, "role": role, "name": name}
        return self.transport.model(UserPublic, "POST", "/v1/users", json=body)

    @operation("GET /v1/users/{user_id}")
    def user(self, user_id: str) -> UserPublic:
        return self._get(UserPublic, f"/v1/users/{user_id}")

    @operation("GET /v1/audit")
    def audit(self, *, limit: int = 50, before: int | None = None) -> PagePublic[AuditPublic]:
        return self._get(PagePublic[AuditPublic], "/v1/audit", limit=limit, before=before)
