"""Waiting until a bwrap sandbox's pid namespace is really gone.

Killing bwrap's process group kills its outer process and the sandbox's pid 1 at once, but the
kernel tears the rest of the namespace down asynchronously: right after the outer bwrap is
reaped, sandboxed processes may still exist for a few milliseconds. bwrap's ``--info-fd``
reports pid 1's host pid; a pidfd on it becomes readable only once pid 1 has exited, and pid 1
exits only after the kernel has killed and reaped every other process in its namespace. So
"pidfd readable" means "nothing of this sandbox runs any more".
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import time
from pathlib import Path


class PidNamespace:
    """Tracks one bwrap sandbox's pid 1 (see the module docstring)."""

    def __init__(self) -> None:
        self._read, self.write_fd = os.pipe()
        self._pidfd: int | None = None

    def argv(self) -> list[str]:
        """The bwrap option that reports pid 1; pass ``write_fd`` to the child."""
        return ["--info-fd", str(self.write_fd)]

    def abandon(self) -> None:
        """Close both ends (bwrap could not be started)."""
        for fd in (self._read, self.write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def started(self, outer_pid: int) -> None:
        """Read bwrap's report (it closes the fd after writing, or on failure without writing)
        and pin pid 1 with a pidfd."""
        os.close(self.write_fd)
        chunks = []
        with contextlib.suppress(OSError):
            while chunk := os.read(self._read, 4096):
                chunks.append(chunk)
        os.close(self._read)
        try:
            child = int(json.loads(b"".join(chunks))["child-pid"])
            pidfd = os.pidfd_open(child)
        except (ValueError, KeyError, TypeError, OSError):
            return  # bwrap failed before starting pid 1, or pid 1 already exited and was reaped
        # The pid could have been reused between the report and pidfd_open: keep the pidfd
        # only if it is still the outer bwrap's child.
        try:
            stat = Path(f"/proc/{child}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            ppid = -1
        if ppid == outer_pid:
            self._pidfd = pidfd
            _settle(child)
        else:
            os.close(pidfd)

    def wait_gone(self, timeout_s: float = 5.0) -> bool:
        """Wait until pid 1 (so the whole namespace) has exited; True if it has."""
        if self._pidfd is None:
            return True
        try:
            ready, _, _ = select.select([self._pidfd], [], [], timeout_s)
            return bool(ready)
        finally:
            os.close(self._pidfd)
            self._pidfd = None


def _settle(pid1: int, timeout_s: float = 2.0) -> None:
    """Wait until the sandbox's pid 1 has started the command (it has a child).

    Until then bwrap may not have armed ``--die-with-parent`` in pid 1: if vitco died in that
    window (measured: a crash right after start), pid 1 and the app outlived it forever.
    """
    deadline = time.monotonic() + timeout_s
    children = Path(f"/proc/{pid1}/task/{pid1}/children")
    while time.monotonic() < deadline:
        try:
            if children.read_text().strip():
                return
        except OSError:
            return  # pid 1 is gone already
        time.sleep(0.002)
