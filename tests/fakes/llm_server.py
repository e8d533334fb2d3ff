"""The machinery shared by the fake model-vendor servers (``FakeOpenAI``, ``FakeAnthropic``).

Provider adapters are tested over real sockets, so the vendor SDK's own transport, timeouts,
SSE decoder and error classes all run exactly as in production; only the far end is ours.
A fake is a threaded ``http.server`` on 127.0.0.1 with an ephemeral port (it starts in
milliseconds) that answers each request with the next scripted *behaviour*:

- ``Reply(output)``: a successful answer carrying ``output`` (a JSON value, or a raw string
  sent as the model's text). It is shaped as a tool call when the request forced a tool and
  streamed when the request asked for a stream, unless ``as_tool``/``stream`` say otherwise.
- ``RateLimit(retry_after)``, ``Fail(status)``: vendor-shaped error responses.
- ``Hang(seconds)``: accept the request and say nothing (a client timeout fires).
- ``Truncated()``: send half the body (or half the stream), then drop the connection.
- ``Malformed(body)``: a 200 whose body is not valid JSON.
- ``Empty()``: a well-formed answer with nothing in it (no choices / no content).
- ``StreamStall(reply, after)``: stream ``after`` events of ``reply``, then hang.
- ``StreamError(reply, after)``: stream ``after`` events, then a mid-stream error.
- ``Raw(status, body, headers)``: anything else.

Behaviours come from a FIFO queue (``server.queue(...)``) and, when it is empty, from
``responder(request_json)``, which may return a behaviour or just the output value. Every
request is recorded (``server.requests``) with its headers and JSON body.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

__all__ = [
    "Behaviour",
    "Empty",
    "Fail",
    "FakeVendorServer",
    "Hang",
    "Malformed",
    "RateLimit",
    "Raw",
    "RecordedRequest",
    "Reply",
    "Responder",
    "StreamError",
    "StreamStall",
    "Truncated",
]


@dataclass(frozen=True)
class Reply:
    """A successful answer whose typed output is ``output``."""

    output: Any
    as_tool: bool | None = None
    stream: bool | None = None
    usage: Mapping[str, int] | None = None
    finish_reason: str | None = None
    model: str | None = None
    chunks: int = 3


@dataclass(frozen=True)
class RateLimit:
    """429 with the vendor's rate-limit body; ``retry_after`` goes in ``Retry-After``."""

    retry_after: str | None = "1"
    retry_after_ms: str | None = None
    message: str = "Rate limit reached"


@dataclass(frozen=True)
class Fail:
    """An error status with the vendor's error body."""

    status: int = 500
    message: str = "The server had an error while processing your request."
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hang:
    """Read the request, then send nothing for ``seconds`` (or until the server closes)."""

    seconds: float = 30.0


@dataclass(frozen=True)
class Truncated:
    """A 200 whose body stops half way and the connection drops.

    Without a stream: ``Content-Length`` promises more than is sent. With one: half the
    events are sent, then the connection closes without ending the chunked body.
    """

    output: Any = field(default_factory=lambda: {"ok": True})


@dataclass(frozen=True)
class Malformed:
    """A 200 ``application/json`` response whose body does not parse."""

    body: str = '{"id": "chatcmpl-1", "choices": [{"message": '


@dataclass(frozen=True)
class Empty:
    """A well-formed answer with no choices (OpenAI) or no content blocks (Anthropic)."""


@dataclass(frozen=True)
class StreamStall:
    """Stream the first ``after`` events of ``reply``, then hang for ``seconds``."""

    reply: Reply
    after: int = 1
    seconds: float = 30.0


@dataclass(frozen=True)
class StreamError:
    """Stream the first ``after`` events of ``reply``, then a vendor error event."""

    reply: Reply
    after: int = 1
    error_type: str = "overloaded_error"
    message: str = "Overloaded"


@dataclass(frozen=True)
class Raw:
    """Exactly this status, body and headers."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


Behaviour = (
    Reply
    | RateLimit
    | Fail
    | Hang
    | Truncated
    | Malformed
    | Empty
    | StreamStall
    | StreamError
    | Raw
)
Responder = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it; header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class Response:
    """What a vendor fake decided to send (built by its ``render``)."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    events: list[bytes] | None = None  # an SSE stream, sent chunked, instead of body
    stall_after: int | None = None  # hang after this many events...
    stall_seconds: float = 30.0  # ...for this long
    hang: float | None = None  # send nothing at all
    truncate: bool = False  # send half the body, then drop the connection


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(payload).encode()
    return Response(status, body, {"content-type": "application/json", **(headers or {})})


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins handler threads: nothing outlives the fake
    block_on_close = True

    def __init__(self, fake: FakeVendorServer) -> None:
        self.fake = fake
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is expected; anything else is kept for asserts.
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError | TimeoutError):
            self.fake.errors.append(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.sockets_lock:
            self.server.open_sockets.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.sockets_lock:
                self.server.open_sockets.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        recorded = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        response = self.server.fake.handle(recorded)
        self._send(response)

    def _send(self, response: Response) -> None:
        stop = self.server.fake.stopping
        if response.hang is not None:
            stop.wait(response.hang)
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.events is not None:
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for index, event in enumerate(response.events):
                if response.stall_after is not None and index >= response.stall_after:
                    self.wfile.flush()
                    stop.wait(response.stall_seconds)
                    self.close_connection = True
                    return
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("content-length", str(len(response.body)))
        self.end_headers()
        if response.truncate:
            self.wfile.write(response.body[: len(response.body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.close_connection = True
            return
        self.wfile.write(response.body)


class FakeVendorServer:
    """Base of the vendor fakes: a scripted HTTP server on 127.0.0.1; see the module doc.

    Use as a context manager, or call :meth:`start` and :meth:`close`.
    """

    vendor = "vendor"

    def __init__(self, *, responder: Responder | None = None, api_key: str | None = None) -> None:
        self.responder = responder
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.problems: list[str] = []  # requests nothing was scripted for
        self.errors: list[str] = []  # exceptions in handler threads
        self.stopping = threading.Event()
        self._behaviours: deque[Any] = deque()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind an ephemeral port and serve in a background thread."""
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"fake-{self.vendor}",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, end hanging handlers, drop open connections, join every thread."""
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        with server.sockets_lock:
            sockets = list(server.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no path)."""
        if self._server is None:
            raise RuntimeError(f"the fake {self.vendor} server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- scripting -------------------------------------------------------------------------

    def queue(self, *behaviours: Any) -> Self:
        """Append behaviours (or bare output values, meaning ``Reply(value)``) to the script."""
        with self._lock:
            self._behaviours.extend(behaviours)
        return self

    @property
    def pending(self) -> int:
        """Scripted behaviours not yet used."""
        with self._lock:
            return len(self._behaviours)

    @property
    def last(self) -> RecordedRequest:
        """The most recent request."""
        return self.requests[-1]

    def handle(self, request: RecordedRequest) -> Response:
        """Record ``request`` and decide the response (called on a handler thread)."""
        with self._lock:
            self.requests.append(request)
        denied = self.check_auth(request)
        if denied is not None:
            return denied
        with self._lock:
            behaviour = self._behaviours.popleft() if self._behaviours else None
        try:
            payload = request.json
        except ValueError:
            return self.render_error(400, "invalid_request_error", "body is not JSON")
        if behaviour is None and self.responder is not None:
            behaviour = self.responder(payload)
        if behaviour is None:
            problem = f"no behaviour scripted for request #{len(self.requests)} {request.path}"
            self.problems.append(problem)
            return self.render_error(500, "fake_error", problem)
        if not isinstance(behaviour, Behaviour):
            behaviour = Reply(behaviour)
        return self.render(behaviour, request, payload)

    # -- vendor specific -------------------------------------------------------------------

    def check_auth(self, request: RecordedRequest) -> Response | None:
        """A 401 response when the request lacks the expected key, else None."""
        raise NotImplementedError

    def render(self, behaviour: Any, request: RecordedRequest, payload: Any) -> Response:
        """The vendor-shaped response for ``behaviour``."""
        raise NotImplementedError

    def render_error(self, status: int, kind: str, message: str) -> Response:
        """The vendor-shaped error body for ``status``."""
        raise NotImplementedError


def split_text(text: str, parts: int) -> Iterator[str]:
    """``text`` in ``parts`` roughly equal pieces (for streaming deltas)."""
    parts = max(1, min(parts, len(text) or 1))
    size = -(-len(text) // parts)
    for start in range(0, len(text), size):
        yield text[start : start + size]


def output_text(output: Any) -> str:
    """The JSON text of an output value; a string is sent verbatim (malformed-model tests)."""
    return output if isinstance(output, str) else json.dumps(output)


def token_estimate(text: str) -> int:
    return max(1, len(text) // 4)
