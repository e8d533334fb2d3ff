"""A TCP 127.0.0.1 -> unix socket forwarder, so the host reaches an app that has no network.

A deployed app runs in a sandbox without a network namespace of the host's, so it serves on a
unix socket that vitco created and handed in (``listener.AppSocket``); the host (health checks,
smoke tests, the client's browser through vitco) talks HTTP to ``http://127.0.0.1:PORT``. No
library does this small job well: socat is an external binary with no way to report its port or
be stopped cleanly from Python, and asyncio would force an event loop onto synchronous callers.
So this is a few threads: one accepts, and each connection gets one thread that pumps both
directions with ``select``.

Only 127.0.0.1 is ever bound, on a port the kernel picks. The bridge never resolves a path the
sandbox could write: it dials through a callable, which connects to vitco's own socket file.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Callable

_CHUNK = 65536


class Bridge:
    """Forwards every TCP connection on ``127.0.0.1:port`` to a unix socket: ``dial``
    connects a fresh unix socket to it.

    Each connection dials when accepted, and is closed if nothing answers there. ``close``
    stops accepting and cuts open connections. ``port``: the port to bind (0, the default:
    one the kernel picks; a deployment's stable URL names its own, ``OSError`` if taken).
    """

    def __init__(self, dial: Callable[[socket.socket], None], *, port: int = 0) -> None:
        self.dial = dial
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port: int = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._thread = threading.Thread(
            target=self._accept_loop, name=f"vitco-bridge-{self.port}", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # listener closed
            threading.Thread(
                target=self._serve, args=(client,), name="vitco-bridge-conn", daemon=True
            ).start()

    def _track(self, *socks: socket.socket) -> bool:
        with self._lock:
            if self._closed.is_set():
                return False
            self._conns.update(socks)
            return True

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if not self._track(client, upstream):
                return
            try:
                self.dial(upstream)
            except OSError:
                return  # the app is not (yet) listening: the client sees the connection close
            self._pump(client, upstream)
        finally:
            with self._lock:
                self._conns.discard(client)
                self._conns.discard(upstream)
            for s in (client, upstream):
                s.close()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        peer = {a: b, b: a}
        open_reads = {a, b}
        with selectors.DefaultSelector() as sel:
            for s in open_reads:
                sel.register(s, selectors.EVENT_READ)
            while open_reads:
                for key, _ in sel.select():
                    src = key.fileobj
                    assert isinstance(src, socket.socket)
                    try:
                        data = src.recv(_CHUNK)
                        if data:
                            peer[src].sendall(data)
                            continue
                    except OSError:
                        return
                    # EOF from one side: pass the half-close on, keep the other direction.
                    sel.unregister(src)
                    open_reads.discard(src)
                    with contextlib.suppress(OSError):
                        peer[src].shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Stop accepting and close every forwarded connection; idempotent."""
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
            conns = list(self._conns)
            self._conns.clear()
        # shutdown() wakes the accept() blocked in the other thread; close() alone may not.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=2)

    def __enter__(self) -> Bridge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
