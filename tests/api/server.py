"""vitco serve's app on a real uvicorn server on 127.0.0.1 (an ephemeral port), in a thread
of the test process, and a client of it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from vitco.api.keys import issue
from vitco.store.access import AccessStore


@dataclass
class Server:
    url: str
    app: FastAPI
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def access(self) -> AccessStore:
        access: AccessStore = self.app.state.vitco.access
        return access

    def key(self, tenant: str, role: str, **options: Any) -> str:
        """A new key of ``tenant`` (made if need be) with ``role``."""
        if tenant not in {t.id for t in self.access.tenants()}:
            self.access.create_tenant(tenant, tenant.title())
        return issue(self.access, tenant, role, **options)[1]

    def client(self, key: str | None = None, **options: Any) -> httpx.Client:
        """A client of the server (closed when the server stops), with ``key`` if given."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30, **options)
        self.clients.append(client)
        return client


@contextmanager
def serving(app: FastAPI) -> Iterator[Server]:
    """``app`` on uvicorn at 127.0.0.1:<free port> until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="websockets-sansio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    running = Server(f"http://127.0.0.1:{port}", app)
    try:
        yield running
    finally:
        for client in running.clients:
            client.close()
        server.should_exit = True
        thread.join(30)
        sock.close()
