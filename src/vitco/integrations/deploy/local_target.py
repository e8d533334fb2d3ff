"""The local target: a release's app started in the sandbox (``deploy_local``), one live app
per project; putting a previous release back stops the current app and starts that one.

The release's tree is vitco's export of a commit (``target.export``), handed to the sandbox as
the app's workspace; the app serves on the socket the sandbox hands in and is reached on
127.0.0.1 (see ``deploy/local.py``). The caller owns the processes: ``close`` stops them.
"""

from __future__ import annotations

import threading
import uuid

import httpx

from vitco.integrations.deploy.local import deploy_local
from vitco.integrations.deploy.target import Live, Release
from vitco.sandbox.protocol import Limits, Process, Sandbox


class LocalTarget:
    name = "local"

    def __init__(
        self,
        sandbox: Sandbox,
        client: httpx.Client,
        *,
        start: list[str],
        health_path: str = "/health",
        build: list[list[str]] | None = None,
        limits: Limits | None = None,
        health_timeout_s: float = 30.0,
    ) -> None:
        self.sandbox, self.client = sandbox, client
        self.start, self.health_path, self.build = start, health_path, build or []
        self.limits, self.health_timeout_s = limits, health_timeout_s
        self.running: dict[str, Process] = {}  # project id -> its live app
        self._lock = threading.Lock()

    def _start(self, release: Release) -> Live:
        deployment, process = deploy_local(
            self.sandbox, self.client, release.tree, build=self.build, start=self.start,
            health_path=self.health_path, smoke=[], limits=self.limits,
            health_timeout_s=self.health_timeout_s,
        )  # fmt: skip
        with self._lock:
            old = self.running.pop(release.project_id, None)
            self.running[release.project_id] = process
        if old is not None:
            old.stop()
        return Live(target=self.name, id=uuid.uuid4().hex[:12], url=deployment.url,
                    commit=release.commit)  # fmt: skip

    def deploy(self, release: Release) -> Live:
        return self._start(release)

    def restore(self, live: Live, release: Release) -> Live:
        return self._start(release).model_copy(update={"id": live.id})

    def close(self) -> None:
        with self._lock:
            processes, self.running = list(self.running.values()), {}
        for process in processes:
            process.stop()
