"""Shipping an HTTP service, for every language: start it in the sandbox, check it live."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel

from vitco.integrations.deploy import (
    AFTER_RESTART,
    AppData,
    Deployment,
    SmokeRequest,
    deploy_local,
)
from vitco.sandbox.limits import MIB
from vitco.sandbox.protocol import Process
from vitco.toolchains.plans import DeployPlan, SmokeTest
from vitco.toolchains.protocol import Check, Shipment, Tools


def data_contract(set_in_tests: str) -> str:
    """What every role is told about where a service keeps data (``Contract.data``);
    ``set_in_tests``: how a test of this language points DATA_DIR at a temporary dir."""
    return (
        "the deployed app keeps data only in the directory named by the environment variable "
        "DATA_DIR (create what it needs there, e.g. a SQLite file): it lasts across restarts and "
        "deploys. Nothing else does: /tmp and HOME are private to one process and vanish, and "
        "files written into the repository are not kept. Read DATA_DIR when the app opens its "
        "data, not at import: only the deployed app has it; tests set it themselves "
        f"({set_in_tests}) and build commands do not see it. The smoke checks run on a scratch "
        "copy of the data, never on the live data; when data must survive a restart, the app is "
        "also restarted and checked again."
    )


def _requests(tests: list[SmokeTest]) -> list[SmokeRequest]:
    return [SmokeRequest.model_validate(t.model_dump()) for t in tests]


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
    (``python``: the interpreter a leading ``python`` in its commands stands for). With
    ``Tools.data`` the app keeps its data there and the checks run on a scratch copy of it;
    with ``persistent_data`` the app is also restarted and checked again."""
    if not isinstance(plan, DeployPlan):
        raise TypeError(f"a service ships with a DeployPlan, not {type(plan).__name__}")
    restart = _requests(plan.restart_checks()) if plan.persistent_data else None
    data = None
    if tools.data is not None:
        data = AppData(tools.data, max_bytes=tools.limits.disk_mb * MIB)
    deployment, process = deploy_local(
        tools.sandbox,
        tools.http,
        root,
        build=[list(c) for c in plan.build],
        start=list(plan.start),
        health_path=plan.health_path,
        smoke=_requests(plan.smoke),
        python=python,
        health_timeout_s=tools.health_timeout_s,
        limits=tools.limits,
        on_started=tools.on_started,
        env={**plan.env, **(env or {})},
        readonly=readonly,
        data=data,
        restart=restart,
    )
    checks = _checks(plan, deployment)
    verdict = "smoke ok" if deployment.smoke_ok else "smoke FAILED"
    if plan.persistent_data:
        verdict += ", data kept over a restart" if deployment.smoke_ok else ""
    shipment = Shipment(
        kind="service",
        summary=f"live at {deployment.url} ({verdict})",
        url=deployment.url,
        checks=checks,
        started_s=deployment.started_s,
    )
    return shipment, process


def _checks(plan: DeployPlan, deployment: Deployment) -> list[Check]:
    checks = [Check(name=f"GET {plan.health_path}", ok=True, detail="200 (health)")]
    where = " (on a copy of the data)" if deployment.scratch else ""
    for s in deployment.smoke:
        prefix = f"{s.phase}: " if s.phase == AFTER_RESTART else ""
        detail = f"{s.status}{where}" if s.ok else f"{s.error}{where}"
        checks.append(Check(name=f"{prefix}{s.method} {s.path}", ok=s.ok, detail=detail))
    if plan.persistent_data:
        if deployment.restart_error is not None:
            checks.append(Check(name="restart", ok=False, detail=deployment.restart_error))
        elif not plan.restart_checks():
            unchecked = "nothing read the data back after it (no after_restart or GET check)"
            checks.append(Check(name="restart", ok=False, detail=f"restarted, but {unchecked}"))
        else:
            checks.append(Check(name="restart", ok=True, detail="stopped and started again"))
    return checks
