"""A delivery shipped to the command target by settings: the run's checks pass in the sandbox,
the user's ship script gets the release, the URL it prints is the delivery's; a later release
of the same project that fails its check there puts the previous one back."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from tests.integrations.test_deploy_targets import SHIP, StaticSite
from tests.workflow.scripted import happy_path, script, write_brief
from vitco.bootstrap import build, start_run
from vitco.config import Settings
from vitco.integrations.git import Repo
from vitco.sandbox import Sandbox
from vitco.store import open_store
from vitco.toolchains import Shipment
from vitco.toolchains.protocol import Check
from vitco.workflow.release import to_target
from vitco.workflow.runtime import Runtime

pytestmark = pytest.mark.slow


def test_a_delivery_ships_by_command_and_a_bad_release_is_rolled_back(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    site = StaticSite(tmp_path / "www")
    ship_py = tmp_path / "ship.py"
    ship_py.write_text(SHIP, encoding="utf-8")
    configured = settings.model_copy(update={
        "deploy_target": "command", "deploy_smoke_path": "/calc.py",
        "deploy_ship_command": [sys.executable, str(ship_py), str(tmp_path / "www"), site.url],
    })  # fmt: skip
    try:
        report = start_run(configured, write_brief(tmp_path), model=script(happy_path()),
                           sandbox=sandbox).report  # fmt: skip
        assert report["status"] == "delivered", report["reason"]
        assert report["smoke_ok"] is True and report["url"] == site.url
        assert "return a + b" in httpx.get(f"{site.url}/calc.py").text
        store = open_store(configured)
        (release,) = [a.content for a in store.artifacts(report["run_id"], "release")]
        assert release["ok"] and release["live"]["url"] == site.url

        # a later run of the project ships a release without calc.py: its check fails there
        run = store.get_run(report["run_id"])
        repo = Repo(Path(report["repo"]))
        repo.git("rm", "-q", "calc.py")
        repo.git("commit", "-q", "-m", "lose calc.py")
        later = store.create_run(run.project_id, run.brief_id, "scripted", "deliver-project")
        services = build(configured, sandbox=sandbox)
        assert services.deploy_target is not None
        with httpx.Client(timeout=10) as http:
            rt = Runtime(
                settings=configured, store=store, model=script({}), sandbox=sandbox,
                mailer=services.mailer, http=http, run_id=later.id, project_id=run.project_id,
                repo_path=repo.path, deploy_target=services.deploy_target(http, sandbox),
            )  # fmt: skip
            checked = Shipment(kind="service", summary="checked",
                               checks=[Check(name="smoke", ok=True)])  # fmt: skip
            shipped = to_target(rt, checked, None)
        assert not shipped.ok and "rolled back to" in shipped.summary
        (bad,) = [a.content for a in store.artifacts(later.id, "release")]
        assert bad["rolled_back"] and bad["live"]["commit"] == release["commit"]
        assert "return a + b" in httpx.get(f"{site.url}/calc.py").text  # the previous is back
    finally:
        site.close()
