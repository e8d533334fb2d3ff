"""A deployment's data directories on the host: the scratch copy for smoke checks is a copy
(never the live data), is removed afterwards, never follows a link the app planted, is bounded,
and a copy left by a crashed deploy is swept while one in use is not."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vitco.integrations.deploy import AppData, DataTooLarge


@pytest.fixture
def data(tmp_path: Path) -> AppData:
    return AppData(tmp_path / "data" / "p1", max_bytes=1 << 20, max_entries=50)


def test_the_scratch_copy_holds_the_live_data_and_changes_to_it_stay_there(
    data: AppData,
) -> None:
    (data.live / "db").mkdir()
    (data.live / "db" / "notes.sqlite").write_bytes(b"live rows")
    os.chmod(data.live / "db" / "notes.sqlite", 0o640)

    with data.scratch() as copy:
        assert copy.parent == data.root and copy != data.live
        assert (copy / "db" / "notes.sqlite").read_bytes() == b"live rows"
        assert (copy / "db" / "notes.sqlite").stat().st_mode & 0o777 == 0o640
        (copy / "db" / "notes.sqlite").write_bytes(b"smoke rows")
        (copy / "new").write_text("x")

    assert (data.live / "db" / "notes.sqlite").read_bytes() == b"live rows"
    assert sorted(os.listdir(data.root)) == ["live"]


def test_links_the_app_planted_are_copied_as_links_and_never_followed(
    data: AppData, tmp_path: Path
) -> None:
    secret = tmp_path / "host-secret"
    secret.write_text("host only")
    (tmp_path / "host-dir").mkdir()
    (tmp_path / "host-dir" / "inside").write_text("host only")
    os.symlink(secret, data.live / "file-link")
    os.symlink(tmp_path / "host-dir", data.live / "dir-link")
    os.mkfifo(data.live / "fifo")  # reading it would block the host

    with data.scratch() as copy:
        assert os.readlink(copy / "file-link") == str(secret)
        assert os.readlink(copy / "dir-link") == str(tmp_path / "host-dir")
        assert not (copy / "fifo").exists()
        assert sorted(os.listdir(copy)) == ["dir-link", "file-link"]

    assert secret.read_text() == "host only"
    assert (tmp_path / "host-dir" / "inside").read_text() == "host only"


@pytest.mark.parametrize(
    ("files", "what"), [({"big": 2 << 20}, "bytes"), ({f"f{i}": 1 for i in range(60)}, "entries")]
)
def test_data_past_the_bounds_is_not_copied(
    data: AppData, files: dict[str, int], what: str
) -> None:
    for name, size in files.items():
        (data.live / name).write_bytes(b"x" * size)

    with pytest.raises(DataTooLarge) as info, data.scratch():
        pass

    assert info.value.what == what
    assert "too large to copy for the smoke checks" in str(info.value)
    assert sorted(os.listdir(data.root)) == ["live"]  # the partial copy is removed


def test_a_copy_left_by_a_crashed_deploy_is_swept_and_one_in_use_is_kept(
    data: AppData, tmp_path: Path
) -> None:
    data.live.mkdir(exist_ok=True)
    # a deploy that died: its copy and its lock, held by nobody now
    crashed = data.root / "smoke-dead"
    crashed.mkdir()
    (crashed / "notes.sqlite").write_text("x")
    (data.root / "smoke-dead.lock").write_text("")
    # a deploy in another process, running now
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(data.root / 'smoke-busy.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
            (data.root / "smoke-busy").mkdir()

            swept = data.sweep()

            assert swept == [crashed]
            assert sorted(os.listdir(data.root)) == ["live", "smoke-busy", "smoke-busy.lock"]
        finally:
            holder.kill()
    assert data.sweep() == [data.root / "smoke-busy"]
    assert sorted(os.listdir(data.root)) == ["live"]


def test_a_scratch_copy_holds_its_lock_until_it_is_removed(data: AppData) -> None:
    with data.scratch() as copy:
        lock = Path(f"{copy}.lock")
        fd = os.open(lock, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        assert data.sweep() == []
        assert copy.is_dir()
    assert not lock.exists()
