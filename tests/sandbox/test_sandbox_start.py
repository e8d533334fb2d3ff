"""A deployed app: reachable from the host only through Process.url, and it cannot get out."""

from __future__ import annotations

import json
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.processes import free_port
from tests.sandbox.sandbox_helpers import describe, token_pids, wait_http
from vitco.sandbox import BwrapSandbox, Limits

# An ASGI app served by uvicorn on the unix socket, as the deploy step runs delivered apps.
# GET /probe tries to get out: the host's listener, and a TCP port of its own that the host
# then tries to reach. It also starts a detached child that must die with the sandbox.
APP = """
import os, socket, subprocess, sys

TOKEN = os.environ["TOKEN"]
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", TOKEN],
                 start_new_session=True)
inner = socket.create_server(("127.0.0.1", int(os.environ["INNER_PORT"])))

def attempt(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return "connected"
    except OSError as exc:
        return type(exc).__name__

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/probe":
        body = {"host_listener": attempt(int(os.environ["HOST_PORT"])),
                "interfaces": [n for _, n in socket.if_nameindex()]}
    else:
        body = {"hello": "from the sandbox"}
    data = __import__("json").dumps(body).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": data})
"""


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        data: dict[str, object] = json.loads(resp.read())
        return data


def test_app_reachable_only_through_its_url(
    bwrap: BwrapSandbox,
    workspace: Path,
    tmp_path: Path,
    host_listener: tuple[socket.socket, int],
) -> None:
    pytest.importorskip("uvicorn")
    srv, host_port = host_listener
    inner_port = free_port()
    token = f"vitco-app-{uuid.uuid4().hex}"
    (workspace / "app.py").write_text(APP)
    env = {"TOKEN": token, "HOST_PORT": str(host_port), "INNER_PORT": str(inner_port)}
    cmd = [sys.executable, "-m", "uvicorn", "app:app", "--fd", "{fd}"]
    proc = bwrap.start(cmd, workspace, Limits(wall_s=1), env=env)
    try:
        assert proc.url is not None and proc.url.startswith("http://127.0.0.1:")
        wait_http(proc.url + "/", lambda: proc.poll() is None)
        assert _get(proc.url + "/") == {"hello": "from the sandbox"}
        time.sleep(1.2)  # past wall_s: a started app is not subject to the wall clock
        probe = _get(proc.url + "/probe")
        assert probe == {"host_listener": "ConnectionRefusedError", "interfaces": ["lo"]}
        with pytest.raises(TimeoutError):
            srv.accept()
        # The app's own TCP listener is on the sandbox's loopback, not the host's.
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", inner_port), timeout=2).close()
        assert token_pids(token), "the detached child should run while the app runs"
        assert proc.poll() is None
    finally:
        proc.stop()
    left = token_pids(token)
    assert left == [], describe(left)
    assert proc.poll() is not None
    with pytest.raises(urllib.error.URLError):
        _get(proc.url + "/")
    proc.stop()  # idempotent
    assert proc.log_path is not None and workspace not in proc.log_path.parents
    assert "Uvicorn running on socket" in proc.log_tail()


def test_app_that_exits_is_reported(bwrap: BwrapSandbox, workspace: Path) -> None:
    with bwrap.start([sys.executable, "-c", "raise SystemExit(3)"], workspace) as proc:
        assert proc.url is not None
        with pytest.raises(AssertionError, match="never answered"):
            wait_http(proc.url, lambda: proc.poll() is None, timeout_s=10)
        assert proc.poll() == 3
