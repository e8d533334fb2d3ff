"""The supervisor: ``vitco serve`` keeps every delivered app up.

- **Adopted at deploy**: a run's deploy step hands the app that passed its checks over
  (``adopt``, the workflow's ``Deployments``); from then on the app is the supervisor's, not
  the run's, and the project's deployment row says how to start it again (the checkout, the
  toolchain, DevOps' plan).
- **A stable URL**: each project's deployment gets a port of its own once, picked at random
  from ``Settings.deploy_ports`` and kept in the row; ``http://127.0.0.1:PORT`` answers
  whichever app serves now (``keeper``), across crashes, new deploys and serve restarts.
- **Restarted when it crashes**, with backoff; **brought back** when serve starts (every row
  not stopped on request); **stopped on request** (``stop``, or the row marked by ``vitco
  deployments stop`` from another process), and then never brought back until a new deploy.

A start after a crash or a serve restart goes through the toolchain's ``ship``, as the deploy
step did: build, start on a scratch copy of the data for the smoke checks, then start on the
live data and wait for health. It is slower than a bare start, but the app is started exactly
as the run started it (interpreter, environment, limits, data dir), by the code that already
does so.

One supervisor per data dir: it holds ``<home>/locks/deployments.lock`` (``flock``, released
by the kernel when serve dies, even by ``kill -9``) while it runs; another ``vitco serve`` on
the same data dir serves without supervising (its runs' apps stop with them), and ``vitco
deployments list`` tells from the lock whether a supervisor is up.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import httpx

from vitco.config import Settings
from vitco.deployments.exceptions import NoFreePort
from vitco.deployments.keeper import Keeper, Timing
from vitco.sandbox.protocol import Process, Sandbox
from vitco.store import Store
from vitco.store.deployments import DeploymentStore
from vitco.store.models import Deployment, new_id
from vitco.toolchains import get_toolchain
from vitco.toolchains.protocol import project_tools

logger = logging.getLogger("vitco.deployments")

PORT_TRIES = 200


def lock_path(settings: Settings) -> Path:
    return settings.home / "locks" / "deployments.lock"


def supervised(settings: Settings) -> bool:
    """Whether a ``vitco serve`` supervises the deployments of this data dir now."""
    path = lock_path(settings)
    if not path.exists():
        return False
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


class Supervisor:
    """Keeps the deployments of one data dir up (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        rows: DeploymentStore,
        sandbox: Sandbox,
        http: Callable[[], httpx.Client],
        *,
        timing: Timing | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.rows = rows
        self.sandbox = sandbox
        self.http = http
        self.timing = timing or Timing()
        self.rng = rng or random.Random()
        self._lock = threading.Lock()
        self._keepers: dict[str, Keeper] = {}
        self._lockfile: IO[str] | None = None

    @property
    def active(self) -> bool:
        """Whether this supervisor holds the data dir's lock (and so keeps apps up)."""
        return self._lockfile is not None

    def start(self) -> None:
        """Take the data dir's lock and bring back every deployment not stopped on request
        (each on a thread of its own: a slow start holds up no other)."""
        path = lock_path(self.settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = path.open("a")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            logger.warning(
                "another vitco serve supervises the deployments of %s", self.settings.home
            )
            return
        os.set_inheritable(fh.fileno(), False)
        self._lockfile = fh
        for row in self.rows.wanted():
            with self._lock:
                self._keep(row.id, port=row.port)

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
        """Keep ``process`` up as the project's deployment; its stable URL (``None`` when this
        supervisor is not active: the run keeps the app)."""
        if not self.active:
            return None
        with self._lock:
            existing = self.rows.for_project(project_id)
            keeper = self._keepers.get(existing.id) if existing is not None else None
            if keeper is not None and not keeper.alive:  # stopped: a new deploy wants it up
                keeper.close()
                del self._keepers[keeper.id]
                keeper = None
            if keeper is None:
                keeper = Keeper(
                    existing.id if existing else new_id("d"), self.rows, self.launch, self.timing
                )
                if existing is None:
                    try:
                        self._bind_free(keeper)
                    except NoFreePort as exc:  # the run keeps its app, as without serve
                        logger.warning("project %s: %s (%s)", project_id, exc, exc.fix)
                        return None
                else:
                    keeper.port = existing.port
                    with contextlib.suppress(OSError):  # taken now: the keeper tries again
                        keeper.bind(existing.port)
                fresh = True
            else:
                fresh = False
            assert keeper.port is not None
            row = self.rows.save(
                project_id,
                run_id,
                deployment_id=keeper.id,
                port=keeper.port,
                root=str(root),
                toolchain=toolchain,
                plan=plan,
            )
            keeper.hand(process)
            if fresh:
                self._keepers[keeper.id] = keeper
                keeper.start()
        return row.url

    def stop(self, deployment_id: str) -> Deployment:
        """Stop a deployment's app for good (until a new deploy); the row says so."""
        with self._lock:
            keeper = self._keepers.pop(deployment_id, None)
        self.rows.request_stop(deployment_id)
        if keeper is not None:
            keeper.close(stopped=True)
        return self.rows.get(deployment_id)

    def close(self) -> None:
        """Serve is going away: stop every app (they stay wanted: the next serve brings them
        back) and release the lock."""
        with self._lock:
            keepers = list(self._keepers.values())
            self._keepers.clear()
        for keeper in keepers:
            keeper.close()
        if self._lockfile is not None:
            self._lockfile.close()
            self._lockfile = None

    def launch(self, row: Deployment) -> Process:
        """Start a deployment's app again from its row, as the deploy step did."""
        toolchain = get_toolchain(row.toolchain)
        plan = None
        if toolchain.plan_type is not None:
            plan = toolchain.plan_type.model_validate(row.plan or {})
        project = self.store.get_project(row.project_id)
        sandbox = self.sandbox.for_project(project.sandbox_slot)
        with self.http() as http:
            tools = project_tools(
                self.settings, sandbox, http, run_id=row.run_id, project_id=row.project_id
            )
            shipment, process = toolchain.ship(tools, Path(row.root), plan)
        if process is None:
            raise RuntimeError(f"the {toolchain.name} toolchain started no app")
        if not shipment.ok:
            failed = "; ".join(f"{c.name}: {c.detail}" for c in shipment.checks if not c.ok)
            self.rows.update(row.id, last_error=f"started again, but checks failed: {failed}")
        return process

    def _keep(self, deployment_id: str, *, port: int) -> Keeper:
        """A keeper of a deployment that has no app yet: it binds the port and starts one."""
        keeper = Keeper(deployment_id, self.rows, self.launch, self.timing)
        keeper.port = port
        self._keepers[deployment_id] = keeper
        keeper.start()
        return keeper

    def _bind_free(self, keeper: Keeper) -> None:
        """Bind ``keeper``'s stable URL on a port of the configured range that no deployment
        holds, picked at random (two data dirs on one machine rarely try the same one)."""
        first, last = self.settings.deploy_ports
        taken = self.rows.ports()
        for _ in range(PORT_TRIES):
            port = self.rng.randint(first, last)
            if port in taken:
                continue
            with contextlib.suppress(OSError):
                keeper.bind(port)
                return
        raise NoFreePort(first, last, PORT_TRIES)
