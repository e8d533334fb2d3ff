"""Shipping a delivery to the configured deploy target (``VITCO_DEPLOY_TARGET`` command or
vercel), after the toolchain's own checks passed in the sandbox.

The run's branch is exported (``deploy.target.export``: git's objects, regular files only)
under ``<home>/deliveries/releases/<project>/<commit>``, shipped with ``deploy.target.ship``
and smoke-tested at the URL the target answers (``VITCO_DEPLOY_SMOKE_PATH``, else the DevOps
plan's health path, else ``/``).
When that check fails, the project's previous live release (the ``release`` artifact of its
latest earlier run that went live) is put back. The outcome is a check of the shipment
(``deploy to <target>``), so a rolled-back delivery reads as failed checks in the report
and the mail, and a ``release`` artifact records what is live.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from vitco.integrations.deploy import SmokeRequest, SmokeResult
from vitco.integrations.deploy.smoke import SmokeSession
from vitco.integrations.deploy.target import Live, Release, export, ship
from vitco.toolchains import Shipment
from vitco.toolchains.protocol import Check
from vitco.workflow.runtime import Runtime


def _previous(rt: Runtime) -> tuple[Live, Release] | None:
    for run in rt.store.runs(rt.project_id):
        if run.id == rt.run_id:
            continue
        for artifact in reversed(rt.store.artifacts(run.id, "release")):
            content = artifact.content
            if content.get("live"):
                return Live.model_validate(content["live"]), Release.model_validate(
                    content["live_release"]
                )
    return None


def to_target(rt: Runtime, shipment: Shipment, plan: BaseModel | None) -> Shipment:
    """Ship the checked delivery to ``rt.deploy_target``; the shipment with its check."""
    target = rt.deploy_target
    if target is None or not shipment.ok:
        return shipment
    project = rt.store.get_project(rt.project_id)
    folder = rt.settings.deliveries_dir / "releases" / rt.project_id
    release = export(rt.base, rt.branch, folder, rt.project_id, project.name)
    health = rt.settings.deploy_smoke_path or str(getattr(plan, "health_path", None) or "/")
    client = SmokeSession(rt.http)

    def smoke(live: Live) -> list[SmokeResult]:
        return client.run(live.url, [SmokeRequest(path=health)], phase=target.name)

    previous = _previous(rt)
    shipped = ship(target, release, smoke, previous)
    live_release: Any = None
    if shipped.live is not None:
        live_release = release if shipped.ok else previous[1] if previous else None
    rt.store.put_artifact(
        rt.run_id,
        "release",
        {
            "target": target.name, "commit": release.commit, "ok": shipped.ok,
            "rolled_back": shipped.rolled_back, "error": shipped.error,
            "smoke": [s.model_dump() for s in shipped.smoke],
            "live": shipped.live.model_dump() if shipped.live else None,
            "live_release": live_release.model_dump(mode="json") if live_release else None,
        },
    )  # fmt: skip
    if shipped.ok and shipped.live is not None:
        detail = f"live at {shipped.live.serving}"
        rt.emit("deploy", f"{release.commit[:10]} {detail} ({target.name})", step="deploy")
        check = Check(name=f"deploy to {target.name}", ok=True, detail=detail)
        return shipment.model_copy(update={
            "url": shipped.live.serving, "checks": [*shipment.checks, check],
            "summary": f"{shipment.summary}; deployed to {target.name}: {shipped.live.serving}",
        })  # fmt: skip
    why = shipped.error or "; ".join(
        f"{s.method} {s.path} answered {s.status}, expected {s.expected}"
        for s in shipped.smoke if not s.ok
    ) or "no check ran"  # fmt: skip
    if shipped.rolled_back and shipped.live is not None:
        why += f"; rolled back to {shipped.live.commit[:10]} at {shipped.live.serving}"
    rt.emit("warning", f"deploy to {target.name} failed: {why}", step="deploy")
    check = Check(name=f"deploy to {target.name}", ok=False, detail=why)
    return shipment.model_copy(update={
        "checks": [*shipment.checks, check],
        "summary": f"{shipment.summary}; deploy to {target.name} FAILED: {why}",
    })  # fmt: skip
