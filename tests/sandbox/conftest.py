"""Fixtures for the sandbox tests: real bwrap, real processes.

When bwrap cannot run here the bwrap tests skip with the reason, except under CI (``CI=true``),
where a missing sandbox is a failure: CI must prove the isolation, not skip it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.sandbox_helpers import skip_or_fail
from vitco.sandbox import BwrapSandbox, Limits, SandboxUnavailable, UnsafeSandbox


@pytest.fixture(scope="session")
def bwrap() -> BwrapSandbox:
    """The real sandbox, or skip (fail under CI) with the reason it cannot run here."""
    try:
        return BwrapSandbox()
    except SandboxUnavailable as exc:
        skip_or_fail(str(exc))
        raise  # unreachable: skip_or_fail raises


@pytest.fixture(scope="session")
def unsafe() -> UnsafeSandbox:
    return UnsafeSandbox(explicit=True)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@pytest.fixture
def fast() -> Limits:
    """Tight limits so a runaway test program is stopped in seconds."""
    return Limits(cpu_s=5, memory_mb=512, processes=64, wall_s=20.0)


@pytest.fixture
def host_listener() -> Iterator[tuple[socket.socket, int]]:
    """A TCP listener on the host's 127.0.0.1 that sandboxed code must not reach."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.5)
    yield srv, srv.getsockname()[1]
    srv.close()
