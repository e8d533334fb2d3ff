"""A host service that only counts who connects: what sandboxed code must never reach."""

from __future__ import annotations

import socket
import threading
from pathlib import Path


class CountingListener:
    """Listens on 127.0.0.1 (a free port) or, given ``path``, on a unix socket there; every
    connection is counted in ``hits`` and closed."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        if path is None:
            self._srv = socket.create_server(("127.0.0.1", 0))
        else:
            self._srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._srv.bind(str(path))
            self._srv.listen(8)
        self.hits = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._srv.getsockname()[1])

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._srv.accept()
            except OSError:
                return
            self.hits += 1
            conn.close()

    def close(self) -> None:
        self._srv.close()
