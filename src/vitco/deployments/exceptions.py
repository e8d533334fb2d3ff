"""Errors of the deployments vitco serve keeps up.

::

    DeploymentError
    └── NoFreePort   no port of VITCO_DEPLOY_PORTS could be bound for a new deployment
"""

from __future__ import annotations


class DeploymentError(Exception):
    """Base of deployment errors."""


class NoFreePort(DeploymentError):
    def __init__(self, first: int, last: int, tries: int) -> None:
        self.first = first
        self.last = last
        self.tries = tries
        self.fix = "widen VITCO_DEPLOY_PORTS, or stop programs that hold ports in it"
        super().__init__(
            f"no free port in {first}-{last} for a deployment's stable URL after {tries} tries"
        )
