"""A started app's data directory: mounted at /data and named by DATA_DIR, handed to the
project's uid without following a link in it, never overridable, never inside the workspace;
and no loader variable ever reaches bwrap."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from vitco.sandbox import BadWorkspace, BwrapSandbox, UnsafeSandbox

# Reports what it sees into DATA_DIR, then waits to be stopped.
APP = """
import json, os, time
data = os.environ["DATA_DIR"]
seen = {"data_dir": data, "uid": os.getuid(), "entries": sorted(os.listdir(data))}
seen["seed"] = open(os.path.join(data, "seed")).read()
try:
    seen["through_link"] = open(os.path.join(data, "link")).read()
except OSError as exc:
    seen["through_link"] = type(exc).__name__
with open(os.path.join(data, "report.tmp"), "w") as fh:
    json.dump(seen, fh)
os.rename(os.path.join(data, "report.tmp"), os.path.join(data, "report.json"))
time.sleep(60)
"""


def _report(data: Path) -> dict[str, object]:
    deadline = time.monotonic() + 20
    while not (data / "report.json").exists():
        assert time.monotonic() < deadline, "the app never wrote its report"
        time.sleep(0.05)
    report: dict[str, object] = json.loads((data / "report.json").read_text())
    return report


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "appdata"
    root.mkdir(mode=0o700)
    live = root / "live"
    live.mkdir(mode=0o700)
    (live / "seed").write_text("written by the host")
    os.chmod(live / "seed", 0o600)
    return live


def test_the_app_sees_its_data_at_data_owned_by_its_uid(
    bwrap: BwrapSandbox, workspace: Path, data: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "host-secret"
    secret.write_text("host only")
    os.chmod(secret, 0o600)
    os.symlink(secret, data / "link")
    confined = bwrap.for_project(7)
    (workspace / "app.py").write_text(APP)

    with confined.start(
        [sys.executable, "app.py", "{fd}"], workspace, env={"DATA_DIR": "/elsewhere"}, data=data
    ):
        report = _report(data)

    assert report["data_dir"] == "/data"
    assert report["entries"] == ["link", "seed"]
    assert report["seed"] == "written by the host"
    # the link points at a host path the sandbox cannot see, and the hand-over never followed it
    assert report["through_link"] in ("FileNotFoundError", "PermissionError")
    assert secret.stat().st_uid == os.getuid() and secret.read_text() == "host only"
    if confined.ids is not None:
        uid, _gid = confined.ids
        assert report["uid"] == uid
        assert data.stat().st_uid == uid
        assert (data / "seed").stat().st_uid == uid
        assert (data / "report.json").stat().st_uid == uid


def test_a_data_dir_inside_the_workspace_is_refused(bwrap: BwrapSandbox, workspace: Path) -> None:
    inside = workspace / "data"
    inside.mkdir()

    with pytest.raises(BadWorkspace, match="must lie outside the workspace"):
        bwrap.start([sys.executable, "-c", "pass", "{fd}"], workspace, data=inside)


@pytest.mark.parametrize("name", ["LD_PRELOAD", "LD_LIBRARY_PATH", "GCONV_PATH"])
def test_a_loader_variable_never_reaches_bwrap(
    bwrap: BwrapSandbox, workspace: Path, name: str
) -> None:
    with pytest.raises(ValueError, match=f"{name} would act on bwrap on the host"):
        bwrap.run(["true"], workspace, env={name: str(workspace / "evil.so")})


def test_the_unsafe_runner_names_the_data_dir_at_its_own_path(
    unsafe: UnsafeSandbox, workspace: Path, data: Path
) -> None:
    (workspace / "app.py").write_text(APP)

    with unsafe.start([sys.executable, "app.py", "{fd}"], workspace, data=data):
        report = _report(data)

    assert report["data_dir"] == str(data)
