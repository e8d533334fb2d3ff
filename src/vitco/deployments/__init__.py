"""Deployments that stay up under ``vitco serve``: the supervisor that keeps every delivered
app running at a stable URL (``supervisor``), one keeper per deployment (``keeper``), and
reading an app's log (``logs``)."""

from vitco.deployments.exceptions import DeploymentError, NoFreePort
from vitco.deployments.keeper import Keeper, Timing, backoff_s
from vitco.deployments.supervisor import Supervisor, lock_path, supervised

__all__ = [
    "DeploymentError",
    "Keeper",
    "NoFreePort",
    "Supervisor",
    "Timing",
    "backoff_s",
    "lock_path",
    "supervised",
]
