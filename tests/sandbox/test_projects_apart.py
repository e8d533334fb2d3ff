"""One project's sandboxed code never touches another project's files, even through a mount
made by mistake: each project runs as its own uid, and a sandbox refuses to take over files of
another project's uid."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vitco.sandbox import BadWorkspace, BwrapSandbox

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="uids are switched only as root")


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    ws = tmp_path / "shared"
    ws.mkdir()
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    return ws


def test_a_second_project_cannot_take_over_the_first_ones_files(
    bwrap: BwrapSandbox, shared: Path
) -> None:
    first, second = bwrap.for_project(11), bwrap.for_project(12)
    made = first.run([sys.executable, "-c", "open('mine.py', 'w').write('x = 1')"], shared)
    assert made.ok, made
    owner = (shared / "mine.py").stat().st_uid
    assert first.ids is not None and owner == first.ids[0]

    # the same directory handed to another project (a mistake in a mount): refused outright
    with pytest.raises(BadWorkspace, match="another project's uid"):
        second.run([sys.executable, "-c", "open('mine.py', 'w').write('pwned')"], shared)
    assert (shared / "mine.py").read_text() == "x = 1"
    assert (shared / "mine.py").stat().st_uid == owner


def test_files_of_another_project_are_not_writable_by_uid(
    bwrap: BwrapSandbox, shared: Path, tmp_path: Path
) -> None:
    # Even if a file of project 11 were visible to project 12 (a read-only mount, say), the
    # kernel refuses the write: the uids differ and the file is not group- or world-writable.
    first = bwrap.for_project(11)
    assert first.run([sys.executable, "-c", "open('a.txt', 'w').write('a')"], shared).ok
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    code = f"open({str(shared / 'a.txt')!r}, 'a').write('pwned')"
    probe = bwrap.for_project(12).run([sys.executable, "-c", code], other, readonly=[shared])
    assert not probe.ok
    assert "Errno 30" in probe.stderr or "Permission denied" in probe.stderr
    assert (shared / "a.txt").read_text() == "a"
