"""A project's uid and gid from the sandbox user's subordinate ranges (temporary subuid and
subgid files; the machine's own are never read)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from vitco.sandbox.exceptions import SandboxError
from vitco.sandbox.identity import SandboxIdsExhausted, project_ids, subordinate_range

USER = "vitco-test-nobody"  # a name no machine has: only lines naming it match


def _files(tmp_path: Path, subuid: str, subgid: str) -> tuple[Path, Path]:
    uid_file, gid_file = tmp_path / "subuid", tmp_path / "subgid"
    uid_file.write_text(subuid)
    gid_file.write_text(subgid)
    return uid_file, gid_file


def test_a_named_range_in_both_files(tmp_path: Path) -> None:
    files = _files(
        tmp_path,
        f"other:100000:65536\n{USER}:1000000000:65536\n",
        f"{USER}:1000065536:65536\nother:100000:65536\n",
    )

    assert subordinate_range(USER, *files) == (1_000_000_000, 1_000_065_536, 65536)


def test_the_user_may_be_listed_by_its_numeric_uid(tmp_path: Path) -> None:
    me = pwd.getpwuid(os.getuid())
    files = _files(tmp_path, f"{me.pw_uid}:200000:1000\n", f"{me.pw_name}:300000:1000\n")

    assert subordinate_range(me.pw_name, *files) == (200000, 300000, 1000)
    # an unknown name matches no numeric line
    assert subordinate_range(USER, *files) is None


def test_the_count_is_the_smaller_range(tmp_path: Path) -> None:
    files = _files(tmp_path, f"{USER}:500000:65536\n", f"{USER}:600000:4096\n")

    assert subordinate_range(USER, *files) == (500000, 600000, 4096)


def test_of_several_ranges_the_first_counts_so_appending_moves_no_project(
    tmp_path: Path,
) -> None:
    files = _files(
        tmp_path,
        f"{USER}:500000:10\n{USER}:900000:65536\n",
        f"{USER}:700000:20\n{USER}:100000:65536\n",
    )

    assert subordinate_range(USER, *files) == (500000, 700000, 10)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "# a comment",
        f"{USER}:500000",
        f"{USER}:500000:65536:extra",
        f"{USER}:five:65536",
        f"{USER}:500000:-1",
        f"{USER}:+500000:65536",
        f"{USER}:1_000:65536",
        f"{USER}:500000:0",
        f"{USER}:0:65536",  # slot 0 would be root
        f"{USER}:4294967290:65536",  # runs past the last valid id
        f"{USER}x:400000:65536",
    ],
)
def test_malformed_or_unsafe_lines_are_skipped(tmp_path: Path, bad: str) -> None:
    files = _files(tmp_path, f"{bad}\n{USER}:500000:65536\n", f"{bad}\n{USER}:600000:65536\n")

    assert subordinate_range(USER, *files) == (500000, 600000, 65536)


def test_spaces_around_a_line_are_ignored(tmp_path: Path) -> None:
    files = _files(tmp_path, f"  {USER}:500000:8  \r\n", f"\t{USER}:600000:8\n")

    assert subordinate_range(USER, *files) == (500000, 600000, 8)


def test_no_range_when_a_file_is_missing_or_lacks_the_user(tmp_path: Path) -> None:
    uid_file, gid_file = _files(tmp_path, f"{USER}:500000:65536\n", "other:600000:65536\n")
    missing = tmp_path / "missing"

    assert subordinate_range(USER, uid_file, gid_file) is None
    assert subordinate_range(USER, uid_file, missing) is None
    assert subordinate_range(USER, missing, uid_file) is None
    assert subordinate_range(USER, missing, missing) is None


def test_project_ids_are_the_range_starts_plus_the_slot() -> None:
    assert project_ids(0, 1_000_000_000, 1_000_065_536, 65536) == (1_000_000_000, 1_000_065_536)
    assert project_ids(65535, 1_000_000_000, 1_000_065_536, 65536) == (
        1_000_065_535,
        1_000_131_071,
    )


def test_a_slot_past_the_range_raises_an_error_that_names_the_fix() -> None:
    with pytest.raises(SandboxIdsExhausted) as info:
        project_ids(10, 500000, 600000, 10)

    error = info.value
    assert isinstance(error, SandboxError)
    assert (error.slot, error.count) == (10, 10)
    assert "prune old projects" in str(error)
    assert "/etc/subuid" in str(error)
    assert error.fix in str(error)


def test_a_negative_slot_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="-1"):
        project_ids(-1, 500000, 600000, 10)
