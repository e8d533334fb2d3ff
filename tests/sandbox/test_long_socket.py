"""A deployed app is reachable even when its workspace path is too long for a socket address."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from vitco.sandbox import BwrapSandbox, Sandbox, UnsafeSandbox
from vitco.sandbox.workspace import fits, socket_path

APP = (
    "async def app(scope, receive, send):\n"
    "    if scope['type'] != 'http':\n"
    "        return\n"
    "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
    "    await send({'type': 'http.response.body', 'body': b'long ok'})\n"
)
CMD = ["python3", "-m", "uvicorn", "app:app", "--lifespan", "off", "--uds", "{socket}"]


@pytest.fixture
def deep_workspace(tmp_path: Path) -> Path:
    ws = tmp_path / ("a-rather-long-directory-name-" * 3) / "projects" / "todo-api-0123456789ab"
    ws.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    (ws / "app.py").write_text(APP)
    assert not fits(socket_path(ws))  # the point of the test
    return ws


@pytest.mark.parametrize("kind", ["bwrap", "unsafe"])
def test_an_app_in_a_deep_workspace_is_reachable(
    deep_workspace: Path, kind: str, bwrap: BwrapSandbox, unsafe: UnsafeSandbox
) -> None:
    sandbox: Sandbox = bwrap if kind == "bwrap" else unsafe
    process = sandbox.start(CMD, deep_workspace)
    try:
        assert process.wait_ready(20), "the app never listened"
        assert process.url is not None
        assert httpx.get(process.url + "/", timeout=5).text == "long ok"
        assert process.socket_path == socket_path(deep_workspace)
        assert process.socket_path.is_socket()
    finally:
        process.stop()
