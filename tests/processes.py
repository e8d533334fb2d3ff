"""vitco as separate processes, as a fleet runs it: ``vitco serve`` and ``vitco worker``
started with an environment of their own (the same ``VITCO_*`` variables the deploy
manifests set; ``tests/deploy`` holds the manifests to these), waited for, stopped."""

from __future__ import annotations

import itertools
import os
import random
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

# The fleet's processes and the settings each is given, exactly as deploy/ runs them
# (tests/deploy/test_manifests.py holds docker-compose.yml and kubernetes/ to these).
API_ARGS = ("serve", "--host", "{host}", "--port", "{port}")
WORKER_ARGS = (
    "worker", "--concurrency", "{concurrency}", "--health-host", "{host}",
    "--health-port", "{health_port}",
)  # fmt: skip
SHARED_ENV = (
    "VITCO_HOME", "VITCO_DATABASE_URL", "VITCO_REDIS_URL", "VITCO_QUEUE_PREFIX", "VITCO_MODEL",
    "VITCO_LOG_LEVEL",
)  # fmt: skip
API_ENV = (*SHARED_ENV, "VITCO_SERVE_WORKER")
WORKER_ENV = SHARED_ENV


def command(template: tuple[str, ...], **values: object) -> list[str]:
    return [part.format(**values) for part in template]


def vitco(prelude: str | None) -> list[str]:
    """The ``vitco`` command; with ``prelude``, Python run in the process first (a test's own
    workflow step registered before the CLI starts)."""
    if prelude is None:
        return VITCO
    return [sys.executable, "-c", f"{prelude}\nfrom vitco.cli.app import main; main()"]


PORTS_FROM, PORTS_EACH = 20000, 1500
"""Where ``free_port`` looks: below the kernel's ephemeral range (32768 on), which outgoing
connections take their source ports from, in a block of its own per pytest-xdist worker."""
_next_port = itertools.count(random.randrange(PORTS_EACH))


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on, for a server a test starts (or for one
    where nothing must answer). Not the kernel's ``bind(0)``: it hands out ports of the
    ephemeral range, so another test's server started in between, or a connection's source
    port, could take the same one before the server binds it (a test then talked to another
    test's ``vitco serve`` and got 401 for its key). Here each xdist worker has a block of
    its own and takes its ports in turn, so no two tests running at once share one and a port
    comes round again only after ``PORTS_EACH`` others."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    base = PORTS_FROM + (int(worker) if worker.isdigit() else 0) % 8 * PORTS_EACH
    for _ in range(PORTS_EACH):
        port = base + next(_next_port) % PORTS_EACH
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:  # in use: the next one
                continue
            return port
    raise RuntimeError(f"no free port in {base}-{base + PORTS_EACH - 1}")


def fleet_env(
    home: Path,
    database_url: str,
    redis_url: str,
    *,
    queue_prefix: str,
    api: bool = False,
    **extra: str,
) -> dict[str, str]:
    """The environment of one process of a fleet (``API_ENV`` or ``WORKER_ENV``): its own data
    dir, the shared PostgreSQL and Redis, the demo cassette as the model (the only thing
    faked), the queue's keys under ``queue_prefix`` (one per test: tests share the Redis
    server); an API process executes no runs (``VITCO_SERVE_WORKER=false``) unless ``extra``
    says otherwise."""
    settings = {
        "VITCO_HOME": str(home),
        "VITCO_DATABASE_URL": database_url,
        "VITCO_REDIS_URL": redis_url,
        "VITCO_QUEUE_PREFIX": queue_prefix,
        "VITCO_MODEL": f"replay:{DEMO_CASSETTE}",
        "VITCO_LOG_LEVEL": "WARNING",
    }
    if api:
        settings["VITCO_SERVE_WORKER"] = "false"
    assert set(settings) == set(API_ENV if api else WORKER_ENV)
    base = {k: v for k, v in os.environ.items() if not k.startswith("VITCO_")}
    return base | settings | extra


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
def serve(
    env: dict[str, str], log: Path | None = None, prelude: str | None = None
) -> Iterator[Served]:
    """``vitco serve`` on 127.0.0.1:<free port> until the block ends (then SIGTERM)."""
    port = free_port()
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    args = command(API_ARGS, host="127.0.0.1", port=port)
    process = subprocess.Popen([*vitco(prelude), *args], env=env, stdout=out, stderr=out)
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


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    health_url: str


def start_worker(
    env: dict[str, str], log: Path | None = None, concurrency: int = 4, prelude: str | None = None
) -> Worker:
    """``vitco worker`` with its probes on a free port, started (not waited for)."""
    port = free_port()
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    args = command(WORKER_ARGS, concurrency=concurrency, host="127.0.0.1", health_port=port)
    process = subprocess.Popen([*vitco(prelude), *args], env=env, stdout=out, stderr=out)
    if log is not None:
        out.close()  # type: ignore[union-attr]  # the child has its own descriptor
    return Worker(process, f"http://127.0.0.1:{port}")
