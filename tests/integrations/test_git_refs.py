"""``check_ref`` answers as ``git check-ref-format`` does (plus vitco's own narrower alphabet
and its refusal of a component starting with ``-``), without running git: checked against the
real git on hand-picked hostile names and on names drawn from the alphabet's riskiest
characters."""

from __future__ import annotations

import random
import subprocess

import pytest

from vitco.integrations.git.exceptions import UnsafeName
from vitco.integrations.git.host import _REF, check_ref

HOSTILE = [
    "refs/heads/main", "refs/heads/task/r-0123456789ab/T1", "refs/tags/v1.2.3",
    "refs/heads/.hidden", "refs/heads/a/.b", "refs/heads/a..b", "refs/heads/a.lock",
    "refs/heads/a.lock/b", "refs/heads/a/b.lock", "refs/heads/a.locked", "refs/heads/a/",
    "refs/heads/a.", "refs/heads//a", "refs/heads/-a", "refs/heads/a/-b", "refs/heads/a-",
    "refs/heads/.", "refs/heads/..", "refs/heads/...", "refs/heads/a/./b", "refs/heads/a@{1}",
    "refs/heads/@", "refs/heads/a b", "refs/heads/a~1", "refs/heads/a^", "refs/heads/a:b",
    "refs/heads/a?", "refs/heads/a*", "refs/heads/a[b", "refs/heads/a\\\\b", "refs/heads/",
    "refs/remotes/origin/main", "heads/main", "main", "refs/heads/ä", "refs/heads/a\x00",
    "refs/heads/" + "x" * 200, "refs/heads/" + "x" * 201, "refs/heads/_", "refs/heads/a_b.c-d",
    "refs/heads/lock", "refs/heads/.lock", "refs/heads/a/.lock", "refs/heads/x..",
]  # fmt: skip


def _git_and_alphabet(ref: str) -> bool:
    """What check_ref answered when it ran git: its alphabet, no '/-' or '//', then git."""
    if _REF.fullmatch(ref) is None or "/-" in ref or "//" in ref:
        return False
    proc = subprocess.run(["git", "check-ref-format", ref], capture_output=True, check=False)
    return proc.returncode == 0


def _accepted(ref: str) -> bool:
    try:
        return check_ref(ref) == ref
    except UnsafeName:
        return False


def _drawn(count: int) -> list[str]:
    rng = random.Random(13)
    pieces = [".", ".", "/", "-", "a", "b", "lock", ".lock", "_", "1"]
    return [
        rng.choice(["refs/heads/", "refs/tags/"])
        + "".join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
        for _ in range(count)
    ]


@pytest.mark.parametrize("ref", HOSTILE)
def test_hostile_names_are_judged_as_git_judges_them(ref: str) -> None:
    assert _accepted(ref) == _git_and_alphabet(ref), ref


def test_names_drawn_from_the_riskiest_characters_are_judged_as_git_judges_them() -> None:
    names = _drawn(600)
    differ = [n for n in names if _accepted(n) != _git_and_alphabet(n)]
    assert not differ, differ[:10]
    assert 50 < sum(map(_accepted, names)) < 550  # both kinds were drawn
