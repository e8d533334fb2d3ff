"""Resource limits: how they are applied and how a stopped command is attributed to one.

Every limit except ``wall`` and ``output`` is an rlimit set by ``prlimit`` just before the
command is exec'd, so it is inherited by everything the command starts:

========== ============== ====================================================================
limit      mechanism      how ``Result.limit_hit`` detects it
========== ============== ====================================================================
cpu        RLIMIT_CPU     SIGXCPU at the soft limit (hard limit = soft + 2 s, then SIGKILL);
                          reliable for the process that spends it. Per process: N processes
                          may each spend ``cpu_s``; ``wall_s`` bounds the total.
memory     RLIMIT_AS      heuristic: an allocation fails, so the program reports it (Python
                          ``MemoryError``, ``Cannot allocate memory``, ``std::bad_alloc``...);
                          a program that swallows the error is not attributed.
processes  RLIMIT_NPROC   heuristic: fork fails with EAGAIN and the program says so
                          (Python ``BlockingIOError: [Errno 11]``, ``can't start new
                          thread``, a shell's ``fork: retry``). Counted per real uid, see
                          ``bwrap.py``.
open_files RLIMIT_NOFILE  heuristic: ``Too many open files`` in stderr.
file_size  RLIMIT_FSIZE   SIGXFSZ, or ``File too large`` (EFBIG) in stderr: Python ignores
                          SIGXFSZ, so there the write fails instead.
wall       host timer     exact: the host killed the sandbox when ``wall_s`` ran out.
output     host reader    exact: captured stdout+stderr reached ``output_bytes``; the sandbox
                          is killed and the output truncated.
disk       host walker    exact: the workspace and the private /tmp held more than
                          ``disk_mb``, measured while the command ran (a few times a second
                          for a small tree) or once it ended; the sandbox is killed.
========== ============== ====================================================================

The heuristics only look at the last 64 KiB of stderr, and only when the command failed; a
test runner that reports a test's MemoryError on stdout (pytest) and carries on is not
"stopped by a limit", and is not attributed.
"""

from __future__ import annotations

import signal as _signal
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vitco.sandbox._process import Finished

from vitco.sandbox.protocol import LimitName, Limits, Result

MIB = 1024 * 1024
_CPU_GRACE_S = 2
_TAIL_BYTES = 64 * 1024

# Ordered: the first matching pattern wins; all lower-case.
_STDERR_PATTERNS: tuple[tuple[LimitName, tuple[str, ...]], ...] = (
    ("file_size", ("file too large", "errno 27]")),
    (
        "memory",
        (
            "memoryerror",
            "cannot allocate memory",
            "std::bad_alloc",
            "out of memory",
            "errno 12]",
            "javascript heap out of memory",
        ),
    ),
    (
        "processes",
        (
            "blockingioerror: [errno 11]",  # Python's os.fork / subprocess
            "can't start new thread",
            "fork: retry",
            "fork: resource temporarily unavailable",
            "cannot fork",
            "can't fork",
        ),
    ),
    ("open_files", ("too many open files", "errno 24]")),
)


def prlimit_argv(limits: Limits) -> list[str]:
    """The ``prlimit`` prefix that applies ``limits`` to the command that follows it."""
    return [
        "prlimit",
        f"--cpu={limits.cpu_s}:{limits.cpu_s + _CPU_GRACE_S}",
        f"--as={limits.memory_mb * MIB}",
        f"--nproc={limits.processes}",
        f"--nofile={limits.open_files}",
        f"--fsize={limits.file_size_mb * MIB}",
        "--core=0",
        "--",
    ]


@dataclass(frozen=True)
class Observation:
    """What the host observed about a finished command, before attribution."""

    exit_code: int | None
    signal: int | None
    stderr: bytes
    cpu_s: float
    wall_hit: bool = False
    output_hit: bool = False
    disk_hit: bool = False


def limit_hit(limits: Limits, outcome: Observation) -> LimitName | None:
    """Which limit stopped the command, where that is detectable (see the module docstring)."""
    if outcome.disk_hit:
        return "disk"
    if outcome.output_hit:
        return "output"
    if outcome.wall_hit:
        return "wall"
    sig = outcome.signal
    if sig == _signal.SIGXCPU:
        return "cpu"
    if sig == _signal.SIGKILL and outcome.cpu_s >= limits.cpu_s:
        return "cpu"
    if sig == _signal.SIGXFSZ:
        return "file_size"
    if outcome.exit_code == 0:
        return None
    tail = outcome.stderr[-_TAIL_BYTES:].decode("utf-8", "replace").lower()
    for name, patterns in _STDERR_PATTERNS:
        if any(p in tail for p in patterns):
            return name
    return None


def to_result(
    finished: Finished,
    limits: Limits,
    *,
    signal_from_128: bool,
    files: Mapping[str, bytes] | None = None,
) -> Result:
    """Turn raw observations into a ``Result``. ``signal_from_128``: the wrapper reports death
    by signal n as exit status 128+n (bwrap does, like a shell)."""
    rc = finished.returncode
    code: int | None = rc
    sig: int | None = None
    if rc < 0:
        code, sig = None, -rc
    elif signal_from_128 and 128 < rc <= 128 + 64:
        code, sig = None, rc - 128
    outcome = Observation(
        exit_code=code,
        signal=sig,
        stderr=finished.stderr,
        cpu_s=finished.cpu_s,
        wall_hit=finished.wall_hit,
        output_hit=finished.output_hit,
        disk_hit=finished.disk_hit,
    )
    return Result(
        exit_code=code,
        stdout=finished.stdout.decode("utf-8", "replace"),
        stderr=finished.stderr.decode("utf-8", "replace"),
        duration_s=finished.duration_s,
        limit_hit=limit_hit(limits, outcome),
        signal=sig,
        files=dict(files or {}),
    )
