"""Shared fixtures: a private data dir per test, the real sandbox, and a network guard.

The guard refuses any TCP connection to an address outside this machine, so no test can reach
a real model service (or anything else) by accident; fake vendor servers listen on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vitco.config import Settings
from vitco.sandbox import Sandbox, SandboxUnavailable, get_sandbox

IN_CI = os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> None:
    """Skip locally; under CI=true a missing service or tool is a failure."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise ConnectionRefusedError(f"tests may not connect outside this machine ({host})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_outside_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's keys or data dir."""
    for name in list(os.environ):
        if name.startswith("VITCO_") or name in (
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
            "OLLAMA_HOST",
            "OPENROUTER_API_KEY",
            "GROQ_API_KEY",
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VITCO_HOME", str(tmp_path / "home"))


@pytest.fixture
def short_home() -> Iterator[Path]:
    """A data dir outside pytest's tree, for tests that run vitco as a separate process."""
    home = Path(tempfile.mkdtemp(prefix="vt-"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh data dir (deep enough that a deployed app's socket path is too
    long for a socket address, so every deploy test also covers that); the real sandbox."""
    return Settings(home=tmp_path / "home", health_timeout_s=20.0)


@pytest.fixture
def sandbox(settings: Settings) -> Iterator[Sandbox]:
    """The sandbox vitco runs delivered code in; skips (fails under CI) where it can't run."""
    try:
        yield get_sandbox(settings)
    except SandboxUnavailable as exc:
        skip_or_fail(f"the sandbox cannot run here: {exc}")
