"""Deployment: the local deploy (more targets come behind the same calls), its data
directories and its smoke checks."""

from vitco.integrations.deploy.data import AppData
from vitco.integrations.deploy.exceptions import BuildFailed, DataTooLarge, DeployError, Unhealthy
from vitco.integrations.deploy.local import AFTER_RESTART, Deployment, deploy_local
from vitco.integrations.deploy.smoke import SmokeRequest, SmokeResult

__all__ = [
    "AFTER_RESTART",
    "AppData",
    "BuildFailed",
    "DataTooLarge",
    "DeployError",
    "Deployment",
    "SmokeRequest",
    "SmokeResult",
    "Unhealthy",
    "deploy_local",
]
