"""The base of the integration fakes (GitHub, Vercel, Stripe): a threaded HTTP server on
127.0.0.1 that routes ``(method, path regex)`` to a handler and records every request.

A handler gets the ``Call`` (method, path, query, headers in lower case, body) and returns
``(status, json-able body)`` or a ``Raw`` answer. Subclasses add routes in ``routes()``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Raw:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


Answer = tuple[int, Any] | Raw
Route = tuple[str, re.Pattern[str], Callable[..., Answer]]


class FakeHTTP:
    """Serve ``routes()`` on 127.0.0.1:<free port> (``with FakeX() as fake: fake.url``)."""

    vendor = "vendor"

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.errors: list[str] = []
        self.lock = threading.RLock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                call = Call(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self._body(),
                )
                with fake.lock:
                    fake.calls.append(call)
                try:
                    answer = fake.dispatch(call)
                except Exception as exc:  # a defect of the fake: visible to the test
                    fake.errors.append(f"{type(exc).__name__}: {exc}")
                    answer = (500, {"message": "fake error"})
                if isinstance(answer, Raw):
                    status, data, headers = answer.status, answer.body, answer.headers
                else:
                    status, payload = answer
                    data = json.dumps(payload).encode()
                    headers = {"Content-Type": "application/json"}
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._routes = self.routes()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def routes(self) -> list[Route]:
        return []

    def dispatch(self, call: Call) -> Answer:
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(call.path)
            if match and method == call.method:
                return handler(call, *match.groups())
        return 404, {"message": "Not Found"}

    def start(self) -> Self:
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def route(method: str, pattern: str, handler: Callable[..., Answer]) -> Route:
    return (method, re.compile(pattern), handler)
