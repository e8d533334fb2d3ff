"""Who holds a lease, and whether a holder on this machine is known dead.

An owner id names the process that took the lease::

    <hostname>/<machine>/<pid>-<start>/<nonce>

``machine`` is the kernel's boot id and the inode of the pid namespace: two processes that
share it see the same pids, so this host can tell from ``/proc/<pid>`` whether the holder is
still the process that took the lease (same pid *and* the same start time, so a recycled pid
does not count as the holder alive). Then a crashed local run need not wait out its lease:
``vitco resume`` right after a ``kill -9`` takes the run over at once, as the ``flock`` lease
it replaces did. A holder on another machine, or in another pid namespace (a container), is
never judged this way: its lease has to expire. A holder that is alive but stopped (SIGSTOP)
counts as alive: it may wake up, and the fencing token deals with it.

This is read from ``/proc`` by hand: no library exposes a process's start time and pid
namespace together (psutil has the first, not the second), and it is a few lines.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
from pathlib import Path

PROC = Path("/proc")


@functools.cache
def machine() -> str:
    """This kernel boot and pid namespace (empty where /proc does not tell)."""
    try:
        boot = (PROC / "sys/kernel/random/boot_id").read_text().strip()[:8]
        pidns = os.stat(PROC / "self/ns/pid").st_ino
    except OSError:
        return ""
    return f"{boot}-{pidns}"


def start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot), None if there is none."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces and parentheses
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


@functools.cache
def _process(pid: int) -> str:
    """``<hostname>/<machine>/<pid>-<start>`` of process ``pid`` (read once per process: by
    pid, so a forked child reads its own)."""
    host = socket.gethostname()[:64].replace("/", "_")
    return f"{host}/{machine()}/{pid}-{start_time(pid)}"


def new_owner() -> str:
    """An owner id for this process (a new nonce each call: one per acquisition)."""
    return f"{_process(os.getpid())}/{uuid.uuid4().hex[:8]}"


def dead_here(owner: str) -> bool:
    """Whether ``owner`` is a process of this machine and pid namespace that is gone. False
    for anything else (another host, an id of another form): those only expire."""
    parts = owner.split("/")
    if len(parts) != 4 or not machine() or parts[1] != machine():
        return False
    pid, _, started = parts[2].partition("-")
    if not pid.isdigit():
        return False
    return start_time(int(pid)) != started
