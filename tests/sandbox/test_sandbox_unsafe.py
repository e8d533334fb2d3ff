"""The unsafe runner: explicit opt-in, a loud warning, and still limits + a clean env."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

from vitco.config import Settings
from vitco.sandbox import (
    BwrapMissing,
    Limits,
    UnsafeSandbox,
    UnsafeSandboxRefused,
    get_sandbox,
)
from vitco.sandbox.unsafe import WARNING

sys.path.insert(0, str(Path(__file__).parent))
from tests.sandbox.sandbox_helpers import wait_http


def test_refused_unless_explicit() -> None:
    with pytest.raises(UnsafeSandboxRefused, match="VITCO_SANDBOX=unsafe"):
        UnsafeSandbox()


def test_get_sandbox_returns_unsafe_only_when_selected_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="vitco.sandbox"):
        sandbox = get_sandbox(Settings(home=tmp_path / "home", sandbox="unsafe"))
    assert isinstance(sandbox, UnsafeSandbox)
    assert sandbox.name == "unsafe"
    assert [r.getMessage() for r in caplog.records] == [WARNING]
    assert "WITHOUT isolation" in WARNING


def test_missing_bwrap_never_falls_back_to_unsafe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on it
    with pytest.raises(BwrapMissing) as info:
        get_sandbox(Settings(home=tmp_path / "home", sandbox="bwrap"))
    assert "apt-get install -y bubblewrap" in info.value.fix
    assert "VITCO_SANDBOX=unsafe" in info.value.fix
    assert not caplog.records  # no unsafe sandbox was built on the way


def test_runs_with_limits_and_clean_env(
    unsafe: UnsafeSandbox, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VITCO_TEST_SECRET", "hunter2")
    code = "import os; print(os.environ.get('VITCO_TEST_SECRET')); print(os.getcwd())"
    result = unsafe.run([sys.executable, "-c", code], workspace)
    assert result.ok, result
    assert result.stdout.split() == ["None", str(workspace)]
    assert "VITCO_TEST_SECRET" in os.environ

    spin = unsafe.run([sys.executable, "-c", "while True: pass"], workspace, Limits(cpu_s=1))
    assert spin.limit_hit == "cpu"
    assert spin.exit_code is None and spin.signal is not None


def test_start_is_reachable_through_the_bridge(unsafe: UnsafeSandbox, workspace: Path) -> None:
    app = (
        "import http.server, socket, socketserver, sys\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200); self.end_headers(); self.wfile.write(b'unsafe-ok')\n"
        "    def address_string(self): return 'uds'\n"
        "class S(socketserver.UnixStreamServer):\n"
        "    def server_bind(self): pass\n"
        "    def server_activate(self): pass\n"
        "s = S(None, H, bind_and_activate=False)\n"
        "s.socket = socket.socket(fileno=int(sys.argv[1]))\n"
        "s.serve_forever()\n"
    )
    (workspace / "app.py").write_text(app)
    with unsafe.start([sys.executable, "app.py", "{fd}"], workspace) as proc:
        assert proc.url is not None
        assert wait_http(proc.url + "/", lambda: proc.poll() is None) == b"unsafe-ok"
    assert proc.poll() is not None
    proc.stop()  # idempotent
