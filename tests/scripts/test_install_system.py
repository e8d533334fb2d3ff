"""scripts/install-system.sh reserving subordinate ids, run for real as root, but on a copy of
/etc: each run is in a private mount namespace where the copy (and an empty /run) is
bind-mounted over /etc, so usermod and useradd write the copy and the machine is left as it was.

Skips unless root with ``unshare --mount`` allowed, and unless the packages the script would
install are already there (it must not reach apt-get from a test).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from vitco.sandbox.identity import subordinate_range

SCRIPT = Path(__file__).parents[2] / "scripts" / "install-system.sh"
USER = "vitco-sbx-test"  # a user of the copy only
FLOOR, COUNT = 1_000_000_000, 65536


def _machine_can_run_it() -> str | None:
    if os.geteuid() != 0:
        return "the script changes /etc only as root"
    for tool in ("bwrap", "prlimit", "setpriv", "dot", "unshare", "flock", "useradd", "usermod"):
        if shutil.which(tool) is None:
            return f"{tool} is missing, so the script would install packages"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True
    )
    if probe.returncode != 0:
        return f"unshare --mount is not allowed here: {probe.stderr.decode().strip()}"
    return None


pytestmark = pytest.mark.skipif(
    _machine_can_run_it() is not None, reason=_machine_can_run_it() or ""
)


def _digest(*paths: Path) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else "-" for p in paths]


@pytest.fixture(autouse=True)
def _machine_untouched() -> Iterator[None]:
    real = [Path("/etc/subuid"), Path("/etc/subgid"), Path("/etc/passwd"), Path("/etc/group")]
    before = _digest(*real)
    yield
    assert _digest(*real) == before


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    """A copy of /etc with empty subuid and subgid files."""
    copy = tmp_path / "etc"
    copy.mkdir()
    subprocess.run(["cp", "-a", "/etc/.", str(copy)], check=True)
    (copy / "subuid").write_text("")
    (copy / "subgid").write_text("")
    return copy


def _install(etc: Path, tmp_path: Path, *, path_first: Path | None = None) -> str:
    """Run the script with ``etc`` as /etc; its output (the run must succeed)."""
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    env = {**os.environ, "VITCO_SANDBOX_USER": USER}
    if path_first is not None:
        env["PATH"] = f"{path_first}:{env['PATH']}"
    done = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            'mount --bind "$1" /etc && mount --bind "$2" /run && exec bash "$3"',
            "sh",
            str(etc),
            str(run),
            str(SCRIPT),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _range(etc: Path) -> tuple[int, int, int] | None:
    return subordinate_range(USER, etc / "subuid", etc / "subgid")


def test_reserves_the_first_range_above_the_floor_once(etc: Path, tmp_path: Path) -> None:
    first = _install(etc, tmp_path)

    assert f"created user '{USER}'" in first
    assert f"reserved subordinate ids {FLOOR}-{FLOOR + COUNT - 1}" in first
    assert _range(etc) == (FLOOR, FLOOR, COUNT)
    assert (etc / "subuid").read_text() == f"{USER}:{FLOOR}:{COUNT}\n"
    files = _digest(etc / "subuid", etc / "subgid", etc / "passwd")

    second = _install(etc, tmp_path)

    assert "(kept)" in second
    assert "reserved" not in second.replace("already reserved", "")
    assert _digest(etc / "subuid", etc / "subgid", etc / "passwd") == files


def test_the_range_overlaps_no_other_range_and_no_id_in_use(etc: Path, tmp_path: Path) -> None:
    (etc / "subuid").write_text(f"other:{FLOOR + 100}:10\n")
    (etc / "subgid").write_text(f"another:{FLOOR + COUNT}:1\n")
    with (etc / "passwd").open("a") as f:
        f.write(f"ghost:x:{FLOOR + 2 * COUNT + 5}:65534::/nonexistent:/usr/sbin/nologin\n")
    with (etc / "group").open("a") as f:
        f.write(f"ghosts:x:{FLOOR + 3 * COUNT}:\n")

    _install(etc, tmp_path)

    start = FLOOR + 4 * COUNT
    assert _range(etc) == (start, start, COUNT)
    assert (etc / "subuid").read_text().splitlines() == [
        f"other:{FLOOR + 100}:10",
        f"{USER}:{start}:{COUNT}",
    ]


def test_a_range_in_one_file_is_kept_and_matched_in_the_other(etc: Path, tmp_path: Path) -> None:
    (etc / "subuid").write_text(f"{USER}:1500000000:4096\n")

    out = _install(etc, tmp_path)

    assert "in /etc/subgid" in out
    assert (etc / "subuid").read_text() == f"{USER}:1500000000:4096\n"
    # the new gid range starts where the uid range does; the count is the smaller one
    assert _range(etc) == (1_500_000_000, 1_500_000_000, 4096)


def test_a_kept_range_that_holds_a_users_uid_is_reported(etc: Path, tmp_path: Path) -> None:
    (etc / "subuid").write_text(f"{USER}:{FLOOR}:{COUNT}\n")
    (etc / "subgid").write_text(f"{USER}:{FLOOR}:{COUNT}\n")
    with (etc / "passwd").open("a") as f:
        f.write(f"squatter:x:{FLOOR + 7}:65534::/nonexistent:/usr/sbin/nologin\n")

    out = _install(etc, tmp_path)

    assert "(kept)" in out
    assert f"WARNING: the kept range {FLOOR}-{FLOOR + COUNT - 1}" in out
    assert f"squatter({FLOOR + 7})" in out


def test_without_usermod_subid_options_the_lines_are_appended(etc: Path, tmp_path: Path) -> None:
    old_shadow = tmp_path / "old-shadow"
    old_shadow.mkdir()
    usermod = old_shadow / "usermod"
    usermod.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --help ]; then echo "Usage: usermod [options] LOGIN"; exit 0; fi\n'
        "echo 'fake usermod must not be called' >&2; exit 2\n"
    )
    usermod.chmod(0o755)
    (etc / "subgid").write_text("other:100000:65536")  # no newline at the end

    out = _install(etc, tmp_path, path_first=old_shadow)

    assert "appended" in out
    assert (etc / "subgid").read_text() == f"other:100000:65536\n{USER}:{FLOOR}:{COUNT}\n"
    assert _range(etc) == (FLOOR, FLOOR, COUNT)
    assert oct((etc / "subuid").stat().st_mode & 0o777) == "0o644"
