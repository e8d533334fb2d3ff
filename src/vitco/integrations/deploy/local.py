"""Local deploy: start the delivered app in the sandbox, wait for health, smoke-test it.

The app serves on a listening unix socket that the sandbox creates and hands in (``{fd}`` in the
start command); the sandbox bridges it to a free 127.0.0.1 port, which is the URL recorded for
the deployment. Health check and smoke requests go through that URL with the ``httpx.Client``
the caller passes in. The app's log lives in the sandbox's own state dir, never in the
workspace.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx
from pydantic import BaseModel, Field

from vitco.integrations.deploy.exceptions import BuildFailed, Unhealthy
from vitco.sandbox.protocol import Limits, Process, Sandbox

POLL_S = 0.1


class SmokeRequest(BaseModel):
    method: str = "GET"
    path: str
    json_body: dict[str, object] | None = None
    expect_status: int = 200


class SmokeResult(BaseModel):
    method: str
    path: str
    status: int | None
    expected: int
    ok: bool
    error: str | None = None


class Deployment(BaseModel):
    url: str
    healthy: bool
    smoke: list[SmokeResult] = Field(default_factory=list)
    started_s: float = 0.0

    @property
    def smoke_ok(self) -> bool:
        return self.healthy and all(s.ok for s in self.smoke)


def _python_argv(argv: list[str], python: Path | None) -> list[str]:
    if python is not None and argv and argv[0] in ("python", "python3"):
        return [str(python), *argv[1:]]
    return argv


def smoke_test(client: httpx.Client, url: str, requests: list[SmokeRequest]) -> list[SmokeResult]:
    results = []
    for req in requests:
        try:
            resp = client.request(req.method, url + req.path, json=req.json_body)
            results.append(
                SmokeResult(
                    method=req.method,
                    path=req.path,
                    status=resp.status_code,
                    expected=req.expect_status,
                    ok=resp.status_code == req.expect_status,
                )
            )
        except httpx.HTTPError as exc:
            results.append(
                SmokeResult(
                    method=req.method,
                    path=req.path,
                    status=None,
                    expected=req.expect_status,
                    ok=False,
                    error=str(exc),
                )
            )
    return results


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
) -> tuple[Deployment, Process]:
    """Build, start, health-check and smoke-test; returns the deployment and its process.

    The caller owns the process (stop it when done). Raises ``BuildFailed`` or ``Unhealthy``;
    an unhealthy app is stopped before raising.
    """
    for command in build:
        argv = _python_argv(command, python)
        result = sandbox.run(argv, root, limits, env=env, readonly=readonly)
        if not result.ok:
            raise BuildFailed(argv, result.stdout + result.stderr)
    began = time.monotonic()
    process = sandbox.start(_python_argv(start, python), root, limits, env=env, readonly=readonly)
    if on_started is not None:
        on_started(process)
    url = process.url or ""
    deadline = began + health_timeout_s
    healthy = False
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if client.get(url + health_path, timeout=2.0).status_code == 200:
                healthy = True
                break
        except httpx.HTTPError:
            pass
        time.sleep(POLL_S)
    if not healthy:
        exited = process.poll()
        process.stop()
        log = process.log_tail()
        if exited is not None:
            log = f"(the app exited with status {exited})\n{log}"
        raise Unhealthy(url, health_timeout_s, log)
    started = time.monotonic() - began
    deployment = Deployment(
        url=url, healthy=True, smoke=smoke_test(client, url, smoke), started_s=started
    )
    return deployment, process
