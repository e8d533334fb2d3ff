"""Shipping an HTTP service, for every language: start it in the sandbox, check it live."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel

from vitco.integrations.deploy import SmokeRequest, deploy_local
from vitco.sandbox.protocol import Process
from vitco.toolchains.plans import DeployPlan
from vitco.toolchains.protocol import Check, Shipment, Tools


def ship_service(
    tools: Tools,
    root: Path,
    plan: BaseModel | None,
    *,
    python: Path | None = None,
    env: Mapping[str, str] | None = None,
    readonly: Sequence[Path] = (),
) -> tuple[Shipment, Process]:
    """Build, start, health-check and smoke-test the service DevOps' ``DeployPlan`` describes
    (``python``: the interpreter a leading ``python`` in its commands stands for)."""
    if not isinstance(plan, DeployPlan):
        raise TypeError(f"a service ships with a DeployPlan, not {type(plan).__name__}")
    deployment, process = deploy_local(
        tools.sandbox,
        tools.http,
        root,
        build=[list(c) for c in plan.build],
        start=list(plan.start),
        health_path=plan.health_path,
        smoke=[SmokeRequest.model_validate(s.model_dump()) for s in plan.smoke],
        python=python,
        health_timeout_s=tools.health_timeout_s,
        limits=tools.limits,
        on_started=tools.on_started,
        env=env,
        readonly=readonly,
    )
    checks = [Check(name=f"GET {plan.health_path}", ok=True, detail="200 (health)")]
    for s in deployment.smoke:
        detail = f"{s.status} (expected {s.expected})" + (f": {s.error}" if s.error else "")
        checks.append(Check(name=f"{s.method} {s.path}", ok=s.ok, detail=detail))
    verdict = "smoke ok" if deployment.smoke_ok else "smoke FAILED"
    shipment = Shipment(
        kind="service",
        summary=f"live at {deployment.url} ({verdict})",
        url=deployment.url,
        checks=checks,
        started_s=deployment.started_s,
    )
    return shipment, process
