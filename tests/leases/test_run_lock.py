"""``run_lock``: a run held by a live process elsewhere is refused, by the CLI too, with a
message that names no host or pid; nothing of the refused attempt is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vitco.cli.app import app
from vitco.cli.run import DEMO_CASSETTE
from vitco.config import Settings
from vitco.store import open_store
from vitco.workflow.checkpoints import run_lock
from vitco.workflow.exceptions import RunBusy


@pytest.mark.usefixtures("sandbox")
def test_resuming_a_run_held_elsewhere_says_so_and_writes_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    store = open_store(settings)
    project = store.create_project("todo", str(tmp_path / "repo"))
    brief = store.create_brief(project.id, "cli", "A todo API.")
    run = store.create_run(project.id, brief.id, f"replay:{DEMO_CASSETTE}", "deliver-project")
    store.update_run(run.id, status="interrupted", reason="stopped by Ctrl-C")
    with run_lock(settings, store, run.id) as held:
        with pytest.raises(RunBusy) as busy, run_lock(settings, store, run.id):
            pass
        assert busy.value.holder.token == held.token
        result = CliRunner().invoke(
            app, ["resume", run.id, "--json"], env={"VITCO_HOME": str(settings.home)}
        )
    assert result.exit_code != 0
    error = json.loads(result.stdout)["error"]
    assert "is being driven by another process right now" in error
    assert f"lease token {held.token}" in error
    assert held.lease.owner.split("/")[0] not in result.output  # no host name, no pid
    after = store.get_run(run.id)
    assert (after.status, after.reason) == ("interrupted", "stopped by Ctrl-C")
    assert store.events(run.id) == []


def test_a_fence_raised_past_the_lease_refuses_the_run_and_leaves_the_lease_untaken(
    settings: Settings, tmp_path: Path
) -> None:
    """The store's own leases raise the fence in the lease's transaction: a newer token
    already on the fence (a run driven under another lease backend, a restored database)
    makes the run busy, and the lease it would have taken is not held afterwards."""
    from vitco.leases.sql import SqlRunLease

    store = open_store(settings)
    project = store.create_project("todo", str(tmp_path / "repo"))
    brief = store.create_brief(project.id, "cli", "A todo API.")
    run = store.create_run(project.id, brief.id, f"replay:{DEMO_CASSETTE}", "deliver-project")
    store.raise_fence(run.id, 1000)
    with pytest.raises(RunBusy), run_lock(settings, store, run.id):
        pass
    leases = SqlRunLease(store.engine)
    assert leases.inspect(run.id) is None  # nobody holds it: the acquisition rolled back
    with pytest.raises(RunBusy), run_lock(settings, store, run.id, leases=leases):
        pass  # the same backend, passed in: refused again
    assert leases.inspect(run.id) is None
    assert store.events(run.id) == []
