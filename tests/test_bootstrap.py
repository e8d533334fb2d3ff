"""The composition root's HTTP clients go through the proxies the environment names, as a
client that reads the environment would, though they read it once (``bootstrap.build``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from vitco.bootstrap import build
from vitco.config import Settings
from vitco.sandbox import Sandbox


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[str]]]:
    """An HTTP proxy that answers every request itself: its URL and the request lines."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.requestline)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.timeout(60)
def test_clients_use_the_environments_proxies(
    settings: Settings,
    sandbox: Sandbox,
    proxy: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, seen = proxy
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.setenv("http_proxy", url)
    monkeypatch.setenv("NO_PROXY", "direct.invalid")
    monkeypatch.setenv("no_proxy", "direct.invalid")
    services = build(settings, sandbox=sandbox)
    for _ in range(2):  # the first client and a later one
        with services.http() as client:
            answer = client.get("http://proxied.invalid/x")
            assert (answer.status_code, answer.text) == (200, "ok")
            with pytest.raises(httpx.ConnectError):  # NO_PROXY: straight to a host not there
                client.get("http://direct.invalid/y")
    assert seen == ["GET http://proxied.invalid/x HTTP/1.1"] * 2


FROZEN = """
import gc, weakref
from vitco.bootstrap import freeze_heap
import vitco.api.app, vitco.jobs.embedded  # what a server's start-up imports
freeze_heap()
frozen = gc.get_freeze_count()
class Node:
    pass
a, b = Node(), Node()
a.other, b.other = b, a  # a cycle made after the freeze
gone = weakref.ref(a)
del a, b
gc.collect()
print(frozen, gone() is None)
"""


def test_freezing_the_heap_sets_start_up_aside_and_still_collects_later_cycles() -> None:
    """A process of its own: freezing the test process's heap would outlive the test."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", FROZEN], capture_output=True, text=True, check=True, timeout=120
    )
    frozen, collected = done.stdout.split()
    assert int(frozen) > 50_000  # the modules' objects, out of the collector's walk
    assert collected == "True"
