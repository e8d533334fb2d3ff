"""Helpers shared by the sandbox tests (importable: this directory is on sys.path)."""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def describe(pids: list[int]) -> str:
    """cmdline and state of ``pids``, for assertion messages."""
    out = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120]
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:3]
        except OSError as exc:
            out.append(f"{pid}: {exc}")
            continue
        out.append(f"{pid} {state} {cmd!r}")
    return "; ".join(out)


def token_pids(token: str) -> list[int]:
    """Live processes whose command line contains ``token``."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if token.encode() in cmdline and pid_alive(int(entry)):
                pids.append(int(entry))
    return pids


def skip_or_fail(reason: str) -> None:
    """Skip locally, fail under CI=true."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the sandbox cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def wait_http(url: str, alive: Callable[[], bool] = lambda: True, timeout_s: float = 30.0) -> bytes:
    """The body of the first answer ``url`` gives; fails if none comes within ``timeout_s`` or
    ``alive()`` turns false (the app exited)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return bytes(resp.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    raise AssertionError(f"{url} never answered")
