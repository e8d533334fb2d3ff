"""Deployment: the local deploy (more targets come behind the same calls)."""

from vitco.integrations.deploy.exceptions import BuildFailed, DeployError, Unhealthy
from vitco.integrations.deploy.local import Deployment, SmokeRequest, deploy_local

__all__ = ["BuildFailed", "DeployError", "Deployment", "SmokeRequest", "Unhealthy", "deploy_local"]
