"""A project's whole life through the typed client, over real HTTP: created from the demo
brief, started on a workflow with an approval gate, approved, followed through its events,
costed, its repository downloaded (a hostile symlink planted in the workspace is never
followed) and checked against git, then forked without one task."""

from __future__ import annotations

import email
import io
import os
import tarfile
from pathlib import Path

import pytest

from tests.api.conftest import MakeServer
from vitco.cli.run import DEMO_BRIEF
from vitco.client import ApiError, VitcoClient
from vitco.config import Settings
from vitco.integrations.git.repo import Repo

pytestmark = pytest.mark.slow
TAKEN = ("queued", "running")
"""A run just queued, as the API answers: the server's worker may have taken it already."""
CAREFUL = (
    "name: careful\nextends: deliver-project\ngates:\n  - {after: plan, question: 'Plan OK?'}\n"
)


def _files(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        members = tar.getmembers()
        assert members and all(m.isfile() for m in members)
        return {
            m.name.split("/", 1)[1]: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in members
        }


def test_a_project_lives_its_whole_life_through_the_client(
    make_server: MakeServer, api_settings: Settings
) -> None:
    (api_settings.home / "workflows").mkdir(parents=True, exist_ok=True)
    (api_settings.home / "workflows" / "careful.yaml").write_text(CAREFUL)
    server = make_server()
    api = VitcoClient(server.client(server.key("acme", "manager")))
    store = server.app.state.vitco.store

    project = api.create_project(DEMO_BRIEF.read_text(), budget_usd=5)
    run = api.start_run(project.id, workflow="careful")
    assert run.status in TAKEN and run.workflow == "careful"
    paused = api.wait(run.id, timeout=300)
    assert paused.status == "awaiting_approval" and paused.reason == "Plan OK?"
    assert [t.key for t in api.tasks(run.id)] == ["T1", "T2", "T3"]
    plan = api.artifacts(run.id, kind=["plan"])
    assert [t["id"] for t in plan[-1].content["tasks"]] == ["T1", "T2", "T3"]
    with pytest.raises(ApiError) as early:
        api.resume(run.id)  # a gate is answered, not resumed
    assert early.value.status == 409

    client_key = VitcoClient(server.client(server.key("acme", "client")))
    assert client_key.approve(run.id, "looks right").status in TAKEN
    done = api.wait(run.id, timeout=300)
    assert done.status == "delivered", done.reason

    events = list(api.all_events(run.id))
    assert [e.seq for e in events] == [e.id for e in store.events(run.id)]
    assert events[-1].message.endswith("delivered")
    costs = api.costs(run_id=run.id, by="model")
    calls = store.calls(run_id=run.id)
    assert sum(row.calls for row in costs.rows) == len(calls) > 0
    assert costs.total_usd == pytest.approx(sum(c.cost_usd for c in calls))
    assert api.budget(project.id).spent_usd == pytest.approx(costs.total_usd)

    report = api.report(run.id)
    assert report.status == "delivered" and report.tests["failed"] == 0
    mail = email.message_from_bytes(api.mail(run.id))
    assert "Todo API" in str(mail["Subject"])
    assert "delivered" in api.logs(run.id)
    deployed = api.deployments(project_id=project.id).items
    assert [d.run_id for d in deployed] == [run.id] and deployed[0].url == report.url
    assert api.deployment(deployed[0].id).status in ("starting", "running")
    assert isinstance(api.deployment_logs(deployed[0].id, lines=5).lines, list)

    # hostile links in the workspace: one left lying, one committed on the branch
    repo = Repo(Path(store.get_project(project.id).repo_path))
    branch = store.get_run(run.id).branch
    assert repo.branch() == branch
    os.symlink("/etc/passwd", repo.path / "planted")
    os.symlink("/etc/passwd", repo.path / "app.py.bak")
    repo.commit("a link", key="hostile-link", paths=["app.py.bak"])
    assert repo.git("ls-tree", branch, "app.py.bak").startswith("120000 ")
    archive = _files(api.repo_archive(run.id))
    entries = repo.tree_entries(branch)
    blobs = repo.read_blobs(e.sha for e in entries)
    assert archive == {e.path: blobs[e.sha] for e in entries}
    assert "planted" not in archive and "app.py.bak" not in archive
    passwd = Path("/etc/passwd").read_bytes()
    assert all(passwd not in data for data in archive.values())

    # fork from the checkpoint before the tasks, without T3: delivered without it
    before_tasks = next(c for c in api.history(run.id) if c.next == ["tasks"])
    fork = api.fork(run.id, before_tasks.step, drop_tasks=["T3"])
    assert fork.parent_run_id == run.id and fork.status in TAKEN
    forked = api.wait(fork.id, timeout=300)
    assert forked.status == "delivered", forked.reason
    assert [t.key for t in api.tasks(fork.id)] == ["T1", "T2"]
    assert api.run(run.id).status == "delivered"  # the original is untouched
    fork_files = _files(api.repo_archive(fork.id))
    assert "README.md" in archive and "README.md" not in fork_files
