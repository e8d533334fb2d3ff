"""vitco as separate processes, as a fleet runs it: ``vitco serve`` and ``vitco worker``
started with an environment of their own (the same ``VITCO_*`` variables the deploy
manifests set; ``tests/deploy`` holds the manifests to these), waited for, stopped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from vitco.cli.run import DEMO_CASSETTE

VITCO = [sys.executable, "-m", "vitco.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fleet_env(home: Path, database_url: str, redis_url: str | None, **extra: str) -> dict[str, str]:
    """The environment of one process of a fleet: its own data dir, the shared PostgreSQL and
    Redis, the demo cassette as the model (the only thing faked)."""
    env = os.environ | {
        "VITCO_HOME": str(home),
        "VITCO_DATABASE_URL": database_url,
        "VITCO_MODEL": f"replay:{DEMO_CASSETTE}",
        "VITCO_LOG_LEVEL": "WARNING",
        **extra,
    }
    if redis_url:
        env["VITCO_REDIS_URL"] = redis_url
    return env


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"vitco serve exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"vitco serve at {url} did not answer in {timeout} s")
        time.sleep(0.2)


@contextmanager
def serve(env: dict[str, str], log: Path | None = None) -> Iterator[Served]:
    """``vitco serve`` on 127.0.0.1:<free port> until the block ends (then SIGTERM)."""
    port = free_port()
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(
        [*VITCO, "serve", "--port", str(port)], env=env, stdout=out, stderr=out
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield Served(url, process)
    finally:
        stop(process)
        if log is not None:
            out.close()  # type: ignore[union-attr]


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
