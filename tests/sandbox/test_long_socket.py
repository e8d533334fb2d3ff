"""A deployed app is reachable when vitco's state dir is too deep for a socket address."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from vitco.sandbox import BwrapSandbox, Sandbox, UnsafeSandbox

APP = (
    "async def app(scope, receive, send):\n"
    "    if scope['type'] != 'http':\n"
    "        return\n"
    "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
    "    await send({'type': 'http.response.body', 'body': b'long ok'})\n"
)
CMD = ["python3", "-m", "uvicorn", "app:app", "--lifespan", "off", "--fd", "{fd}"]
_SUN_PATH_MAX = 107


@pytest.fixture
def deep_state(tmp_path: Path) -> Path:
    state = tmp_path / ("a-rather-long-directory-name-" * 3) / "vitco-home" / "sandbox"
    assert len(str(state / "apps" / "a-xxxxxxxx" / "app.sock")) > _SUN_PATH_MAX  # the point
    return state


@pytest.fixture
def project(tmp_path: Path) -> Path:
    ws = tmp_path / "projects" / "todo-api-0123456789ab"
    ws.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    (ws / "app.py").write_text(APP)
    return ws


def _get(url: str) -> str:
    for _ in range(100):
        try:
            return httpx.get(url, timeout=5).text
        except httpx.TransportError:
            import time

            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


@pytest.mark.parametrize("kind", ["bwrap", "unsafe"])
def test_an_app_with_a_deep_state_dir_is_reachable(
    project: Path, deep_state: Path, kind: str
) -> None:
    sandbox: Sandbox
    if kind == "bwrap":
        sandbox = BwrapSandbox(state_root=deep_state).for_project(7)
    else:
        sandbox = UnsafeSandbox(explicit=True, state_root=deep_state)
    process = sandbox.start(CMD, project)
    try:
        assert process.url is not None
        assert _get(process.url + "/") == "long ok"
        assert process.log_path is not None
        assert deep_state in process.log_path.parents  # vitco's dir, not the workspace
        assert not (project / ".vitco").exists()
    finally:
        process.stop()
