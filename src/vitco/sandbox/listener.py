"""The socket and log of a deployed app, in a directory vitco owns.

vitco creates the app's listening unix socket itself and hands the open descriptor into the
sandbox (``{fd}`` in the start command; ``uvicorn --fd``, ``gunicorn --bind fd://N`` and Node's
``listen({fd})`` all take one). The socket's file and the app's log live in a fresh directory
under vitco's own state dir, mode 0700 and never mounted into any sandbox: the app can neither
swap its socket for a link to a host socket (the bridge would dial it as root) nor its log for
a link to a host file (vitco would append to it as root). Both are opened through a descriptor
of that directory, so a path too long for a socket address works too.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from pathlib import Path

SOCKET_NAME = "app.sock"
LOG_NAME = "app.log"
BACKLOG = 128


class AppSocket:
    """A listening unix socket and an append-only log file for one started app."""

    def __init__(self, root: Path) -> None:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="a-", dir=root))
        self._dir_fd = os.open(self.dir, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        self.listener: socket.socket | None = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self._address())
        self.listener.listen(BACKLOG)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        self.log_fd: int | None = os.open(LOG_NAME, flags, 0o600, dir_fd=self._dir_fd)

    @property
    def path(self) -> Path:
        """Where the socket is on the host (for people; vitco dials it through ``dial``)."""
        return self.dir / SOCKET_NAME

    @property
    def log_path(self) -> Path:
        return self.dir / LOG_NAME

    @property
    def fd(self) -> int:
        """The listening socket's descriptor, to pass to the app."""
        assert self.listener is not None, "the socket was handed over already"
        return self.listener.fileno()

    def _address(self) -> str:
        return f"/proc/self/fd/{self._dir_fd}/{SOCKET_NAME}"

    def dial(self, sock: socket.socket) -> None:
        """Connect ``sock`` to the app."""
        sock.connect(self._address())

    def handed_over(self) -> None:
        """The app has its copy of the socket and the log: close vitco's, so a connection to
        an app that died is refused at once instead of waiting in the backlog."""
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        if self.log_fd is not None:
            os.close(self.log_fd)
            self.log_fd = None

    def close(self) -> None:
        """Close everything and remove the socket file; the log stays for reading."""
        self.handed_over()
        if self._dir_fd < 0:
            return
        with contextlib.suppress(OSError):
            os.unlink(SOCKET_NAME, dir_fd=self._dir_fd)
        os.close(self._dir_fd)
        self._dir_fd = -1
