"""Local deploy: start the delivered app in the sandbox, wait for health, smoke-test it.

The app serves on a listening unix socket that the sandbox creates and hands in (``{fd}`` in the
start command); the sandbox bridges it to a free 127.0.0.1 port, which is the URL recorded for
the deployment. Health check and smoke requests go through that URL with the ``httpx.Client``
the caller passes in. The app's log lives in the sandbox's own state dir, never in the
workspace.

With a data directory (``AppData``) a deploy has up to three starts, each on data of its own:

1. the app on a scratch copy of the live data: health, then the smoke checks in order;
2. with ``restart`` checks (the spec asks for data that survives a restart): the app stopped
   and started again on the same copy, health, then those checks;
3. the app on the live data, health: the deployment that stays up. Smoke checks never touch it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx
from pydantic import BaseModel, Field

from vitco.integrations.deploy.data import AppData
from vitco.integrations.deploy.exceptions import BuildFailed, Unhealthy
from vitco.integrations.deploy.smoke import SmokeRequest, SmokeResult, SmokeSession
from vitco.sandbox.protocol import Limits, Process, Sandbox

POLL_S = 0.1
AFTER_RESTART = "after restart"


class Deployment(BaseModel):
    url: str
    healthy: bool
    smoke: list[SmokeResult] = Field(default_factory=list)
    restart_error: str | None = Field(
        default=None, description="Why the restart check could not run its checks, if so."
    )
    scratch: bool = Field(default=False, description="Smoke ran on a copy of the live data.")
    started_s: float = 0.0

    @property
    def smoke_ok(self) -> bool:
        return self.healthy and self.restart_error is None and all(s.ok for s in self.smoke)


def _python_argv(argv: list[str], python: Path | None) -> list[str]:
    if python is not None and argv and argv[0] in ("python", "python3"):
        return [str(python), *argv[1:]]
    return argv


class _Starter:
    """Starts the app, each time on the data given, and waits until it is healthy."""

    def __init__(
        self,
        sandbox: Sandbox,
        client: httpx.Client,
        root: Path,
        argv: list[str],
        health_path: str,
        health_timeout_s: float,
        limits: Limits | None,
        on_started: Callable[[Process], None] | None,
        env: Mapping[str, str] | None,
        readonly: Sequence[Path],
    ) -> None:
        self.sandbox, self.client, self.root, self.argv = sandbox, client, root, argv
        self.health_path, self.health_timeout_s = health_path, health_timeout_s
        self.limits, self.on_started, self.env, self.readonly = limits, on_started, env, readonly

    def start(self, data: Path | None) -> tuple[Process, float]:
        """The healthy app and how long it took; ``Unhealthy`` (the app stopped) if not."""
        began = time.monotonic()
        kw = {"data": data} if data is not None else {}
        process = self.sandbox.start(
            self.argv, self.root, self.limits, env=self.env, readonly=self.readonly, **kw
        )
        if self.on_started is not None:
            self.on_started(process)
        url = process.url or ""
        deadline = began + self.health_timeout_s
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if self.client.get(url + self.health_path, timeout=2.0).status_code == 200:
                    return process, time.monotonic() - began
            except httpx.HTTPError:
                pass
            time.sleep(POLL_S)
        exited = process.poll()
        process.stop()
        log = process.log_tail()
        if exited is not None:
            log = f"(the app exited with status {exited})\n{log}"
        raise Unhealthy(url, self.health_timeout_s, log)


def deploy_local(
    sandbox: Sandbox,
    client: httpx.Client,
    root: Path,
    *,
    build: list[list[str]],
    start: list[str],
    health_path: str,
    smoke: list[SmokeRequest],
    python: Path | None = None,
    health_timeout_s: float = 30.0,
    limits: Limits | None = None,
    on_started: Callable[[Process], None] | None = None,
    env: Mapping[str, str] | None = None,
    readonly: Sequence[Path] = (),
    data: AppData | None = None,
    restart: list[SmokeRequest] | None = None,
) -> tuple[Deployment, Process]:
    """Build, start, health-check and smoke-test; returns the deployment and its process.

    ``data``: the app's data directories; smoke (and ``restart``) checks then run on a
    scratch copy and the returned process serves the live data (see the module docstring).
    Without it the checks run against the returned process itself. ``restart``: checks run
    after the app is stopped and started again (``None``: no restart). ``env`` reaches the
    build commands and the app. The caller owns the process (stop it when done). Raises
    ``BuildFailed``, ``Unhealthy`` (for the first start) or ``DataTooLarge``; an unhealthy
    app is stopped before raising.
    """
    for command in build:
        argv = _python_argv(command, python)
        result = sandbox.run(argv, root, limits, env=env, readonly=readonly)
        if not result.ok:
            raise BuildFailed(argv, result.stdout + result.stderr)
    starter = _Starter(
        sandbox,
        client,
        root,
        _python_argv(start, python),
        health_path,
        health_timeout_s,
        limits,
        on_started,
        env,
        readonly,
    )
    session = SmokeSession(client)
    if data is None:
        process, started = starter.start(None)
        results = session.run(process.url or "", smoke)
        error: str | None = None
        if restart is not None:
            process, error = _restarted(starter, process, None, session, restart, results)
        url = process.url or ""
        return _deployment(url, results, error, False, started), process
    with data.scratch() as copy:
        process, _ = starter.start(copy)
        try:
            results = session.run(process.url or "", smoke)
            error = None
            if restart is not None:
                process, error = _restarted(starter, process, copy, session, restart, results)
        finally:
            process.stop()
    live, started = starter.start(data.live)
    return _deployment(live.url or "", results, error, True, started), live


def _restarted(
    starter: _Starter,
    process: Process,
    data: Path | None,
    session: SmokeSession,
    checks: list[SmokeRequest],
    results: list[SmokeResult],
) -> tuple[Process, str | None]:
    """Stop the app, start it again on the same data and run ``checks`` (appended to
    ``results``); returns the new process (the old one if it never came back) and why the
    checks could not run, if so."""
    process.stop()
    try:
        process, _ = starter.start(data)
    except Unhealthy as exc:
        return process, f"the app did not come back after a restart: {exc}"
    results.extend(session.run(process.url or "", checks, AFTER_RESTART))
    return process, None


def _deployment(
    url: str, results: list[SmokeResult], error: str | None, scratch: bool, started: float
) -> Deployment:
    return Deployment(
        url=url,
        healthy=True,
        smoke=results,
        restart_error=error,
        scratch=scratch,
        started_s=started,
    )
