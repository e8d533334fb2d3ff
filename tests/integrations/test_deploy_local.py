"""The local deploy in the real sandbox: build, start on a handed-in socket, health, smoke."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from vitco.integrations.deploy import BuildFailed, SmokeRequest, Unhealthy, deploy_local
from vitco.sandbox import Limits, Process, Result, Sandbox
from vitco.toolchains.python import ensure_venv

LIMITS = Limits(cpu_s=30, memory_mb=1024, wall_s=60.0)

# A stdlib HTTP app on the listening socket handed in as fd argv[1]; it serves what the build
# step wrote.
APP = """
import json, socket, socketserver, sys
from http.server import BaseHTTPRequestHandler

TODOS = []
BUILT = open("built.txt").read().strip()

class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            self.reply(200, {"built": BUILT})
        elif self.path == "/todos":
            self.reply(200, TODOS)
        else:
            self.reply(404, {"detail": "not found"})

    def do_POST(self):
        item = json.loads(self.rfile.read(int(self.headers["content-length"])))
        TODOS.append(item)
        self.reply(201, item)

    def address_string(self):
        return "unix"

class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

server = Server(None, Handler, bind_and_activate=False)
server.socket = socket.socket(fileno=int(sys.argv[1]))
print("serving on fd", sys.argv[1], flush=True)
server.serve_forever()
"""


class SpySandbox:
    """The real sandbox, remembering what it ran and the processes it started."""

    def __init__(self, inner: Sandbox) -> None:
        self.inner = inner
        self.name = inner.name
        self.ran: list[list[str]] = []
        self.started: list[Process] = []

    def run(self, cmd: Sequence[str], workspace: Path, *args: Any, **kw: Any) -> Result:
        self.ran.append(list(cmd))
        return self.inner.run(cmd, workspace, *args, **kw)

    def start(
        self,
        cmd: Sequence[str],
        workspace: Path,
        limits: Limits | None = None,
        *,
        env: Mapping[str, str] | None = None,
        readonly: Sequence[Path] = (),
        data: Path | None = None,
    ) -> Process:
        process = self.inner.start(cmd, workspace, limits, env=env, readonly=readonly, data=data)
        self.started.append(process)
        return process

    def for_project(self, slot: int) -> SpySandbox:
        return self


@pytest.fixture
def spy(sandbox: Sandbox) -> Iterator[SpySandbox]:
    spy = SpySandbox(sandbox)
    yield spy
    for process in spy.started:
        process.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


@pytest.fixture
def root(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "app.py").write_text(APP, encoding="utf-8")
    return ws


def test_deploy_builds_starts_and_passes_smoke_tests(
    spy: SpySandbox, client: httpx.Client, root: Path
) -> None:
    python = ensure_venv(spy.inner, root)

    deployment, process = deploy_local(
        spy,
        client,
        root,
        build=[["python", "-c", "open('built.txt', 'w').write('build-42')"]],
        start=["python", "app.py", "{fd}"],
        health_path="/health",
        smoke=[
            SmokeRequest(
                method="POST", path="/todos", json_body={"title": "milk"}, expect_status=201
            ),
            SmokeRequest(path="/todos"),
            SmokeRequest(path="/nope", expect_status=200),
        ],
        python=python,
        health_timeout_s=20.0,
        limits=LIMITS,
    )

    assert spy.ran == [[str(python), "-c", "open('built.txt', 'w').write('build-42')"]]
    assert deployment.healthy
    assert deployment.url == process.url
    assert deployment.url.startswith("http://127.0.0.1:")
    assert [(s.method, s.path, s.status, s.expected, s.ok) for s in deployment.smoke] == [
        ("POST", "/todos", 201, 201, True),
        ("GET", "/todos", 200, 200, True),
        ("GET", "/nope", 404, 200, False),
    ]
    assert not deployment.smoke_ok
    # the deployment stays up for the caller, with the state the smoke tests left
    assert client.get(deployment.url + "/health").json() == {"built": "build-42"}
    assert client.get(deployment.url + "/todos").json() == [{"title": "milk"}]
    assert process.poll() is None

    process.stop()
    assert process.poll() is not None
    with pytest.raises(httpx.TransportError):
        client.get(deployment.url + "/health")


def test_an_app_that_never_serves_is_unhealthy_and_stopped(
    spy: SpySandbox, client: httpx.Client, root: Path
) -> None:
    never = (
        "import sys, time; print('fatal: no database', file=sys.stderr, flush=True); "
        "time.sleep(120)"
    )

    with pytest.raises(Unhealthy) as info:
        deploy_local(
            spy,
            client,
            root,
            build=[],
            start=["python", "-c", never, "{fd}"],
            health_path="/health",
            smoke=[SmokeRequest(path="/")],
            python=ensure_venv(spy.inner, root),
            health_timeout_s=2.0,
            limits=LIMITS,
        )

    assert "fatal: no database" in info.value.log_tail
    assert info.value.url.startswith("http://127.0.0.1:")
    [process] = spy.started
    assert process.poll() is not None  # stopped before raising
    with pytest.raises(httpx.TransportError):
        client.get(info.value.url + "/health")


def test_a_failing_build_raises_build_failed_and_starts_nothing(
    spy: SpySandbox, client: httpx.Client, root: Path
) -> None:
    python = ensure_venv(spy.inner, root)
    failing = ["python", "-c", "import sys; print('compiling assets'); sys.exit(3)"]

    with pytest.raises(BuildFailed) as info:
        deploy_local(
            spy,
            client,
            root,
            build=[["python", "-c", "print('step one')"], failing],
            start=["python", "app.py", "{fd}"],
            health_path="/health",
            smoke=[],
            python=python,
            limits=LIMITS,
        )

    assert info.value.command == [str(python), *failing[1:]]
    assert "compiling assets" in info.value.output
    assert len(spy.ran) == 2
    assert spy.started == []
