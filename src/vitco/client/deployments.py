"""The client's methods for the apps ``vitco serve`` keeps up (``/v1/deployments``), mixed
into ``VitcoClient``."""

from __future__ import annotations

from vitco.api.schemas import DeploymentPublic, LogPublic, PagePublic
from vitco.client.transport import Transport, operation


class DeploymentMethods:
    transport: Transport

    @operation("GET /v1/deployments")
    def deployments(
        self,
        *,
        project_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> PagePublic[DeploymentPublic]:
        params = {"project_id": project_id, "status": status, "limit": limit, "cursor": cursor}
        model = PagePublic[DeploymentPublic]
        return self.transport.model(model, "GET", "/v1/deployments", params=params)

    @operation("GET /v1/deployments/{deployment_id}")
    def deployment(self, deployment_id: str) -> DeploymentPublic:
        return self.transport.model(DeploymentPublic, "GET", f"/v1/deployments/{deployment_id}")

    @operation("GET /v1/deployments/{deployment_id}/logs")
    def deployment_logs(self, deployment_id: str, *, lines: int = 100) -> LogPublic:
        """The last ``lines`` lines of the app's output."""
        path = f"/v1/deployments/{deployment_id}/logs"
        return self.transport.model(LogPublic, "GET", path, params={"lines": lines})

    @operation("POST /v1/deployments/{deployment_id}/stop")
    def stop_deployment(self, deployment_id: str) -> DeploymentPublic:
        """Stop the app (it stays stopped until the project is deployed again)."""
        path = f"/v1/deployments/{deployment_id}/stop"
        return self.transport.model(DeploymentPublic, "POST", path)
