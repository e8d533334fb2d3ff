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
