"""Deployment: the local deploy, its data directories and its smoke checks, and the deploy
targets a checked delivery is shipped to (``target``: local, command, vercel)."""

from vitco.integrations.deploy.data import AppData
from vitco.integrations.deploy.exceptions import BuildFailed, DataTooLarge, DeployError, Unhealthy
from vitco.integrations.deploy.local import AFTER_RESTART, Deployment, deploy_local
from vitco.integrations.deploy.smoke import SmokeRequest, SmokeResult
from vitco.integrations.deploy.target import DeployTarget, Live, Release, Shipped, export, ship

__all__ = [
    "AFTER_RESTART",
    "AppData",
    "BuildFailed",
    "DataTooLarge",
    "DeployError",
    "DeployTarget",
    "Deployment",
    "Live",
    "Release",
    "Shipped",
    "SmokeRequest",
    "SmokeResult",
    "Unhealthy",
    "deploy_local",
    "export",
    "ship",
]
