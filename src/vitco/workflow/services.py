"""What the workflow runs with: built once by the composition root (``vitco.bootstrap``) and
handed in, so nothing in the workflow reads the environment, opens a store or makes a client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from vitco.config import Settings
from vitco.integrations.deploy.target import DeployTarget
from vitco.integrations.git.host import GitHost
from vitco.integrations.mail import Mailer
from vitco.integrations.payments import Payments
from vitco.integrations.storage import ArtifactStore
from vitco.leases import RunLease
from vitco.llm.model import Model
from vitco.sandbox.protocol import Process, Sandbox
from vitco.store import Store


class Deployments(Protocol):
    """Where a delivered app goes to stay up: ``vitco serve``'s supervisor
    (``vitco.deployments.Supervisor``). Without one, a run's app stops with the run."""

    def adopt(
        self,
        *,
        project_id: str,
        run_id: str,
        root: Path,
        toolchain: str,
        plan: dict[str, Any] | None,
        process: Process,
    ) -> str | None:
        """Take ``process`` (the app just deployed from ``root``) over: keep it up, start it
        again from ``toolchain`` and ``plan`` when it crashes or serve restarts; returns the
        project's stable URL (``None``: not taken, the caller keeps owning it)."""
        ...


@dataclass(frozen=True)
class Services:
    """The parts every run shares in one process (a CLI call, a worker, a service).

    ``models(id)`` gives the model for an id (``None``: the configured default); ``http()``
    makes the HTTP client a run checks its deliveries with (closed when the run ends).
    ``deployments``: who keeps delivered apps up (``vitco serve``), if anyone.
    ``git_host(http, tenant_id)``: where a run publishes its branches and reviews (``None``:
    nowhere), made per run with the run's HTTP client and its tenant's token.
    ``payments(tenant_id)``: where a payment gate issues the project's invoice, with the
    tenant's own key. ``deploy_target(http, sandbox)``:
    where a delivery is shipped after its checks (``None``: the local, supervised deployment).
    ``leases``: where runs' leases live (``None``: the store's database).
    """

    settings: Settings
    store: Store
    sandbox: Sandbox
    mailer: Mailer
    models: Callable[[str | None], Model]
    http: Callable[[], httpx.Client]
    deployments: Deployments | None = None
    artifacts: ArtifactStore | None = None  # where delivered files are kept (None: nowhere)
    git_host: Callable[[httpx.Client, str], GitHost] | None = None
    payments: Callable[[str], Payments] | None = None
    deploy_target: Callable[[httpx.Client, Sandbox], DeployTarget] | None = None
    leases: RunLease | None = None
