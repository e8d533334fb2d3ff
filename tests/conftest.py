"""Shared fixtures: a private data dir per test, the real sandbox, and a network guard.

The guard refuses any TCP connection to an address outside this machine, so no test can reach
a real model service (or anything else) by accident; fake vendor servers listen on 127.0.0.1.

Markers (registered in pyproject.toml) pick a fast subset: ``slow`` is set by the modules that
run whole workflows; ``postgres`` and ``redis`` are set here on every test that uses the
server's fixture (``postgres_server``, ``redis_client`` and what depends on them) or runs with a
fixture parameter naming it (``database_url[postgres]``, ``backend[store-postgres]``)::

    pytest -m "not slow and not postgres and not redis"
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

import vitco.api.keys
from tests.standin import installed
from vitco.config import Settings
from vitco.llm.providers import env_names as provider_env_names
from vitco.sandbox import Sandbox, SandboxUnavailable, get_sandbox
from vitco.store.db import close_databases

IN_CI = os.environ.get("CI", "").lower() == "true"

SERVER_FIXTURES = {"postgres_server": "postgres", "redis_client": "redis"}


def _servers(item: pytest.Item) -> set[str]:
    """The servers a test needs: by the fixtures it uses, or a parameter that names one."""
    needs = {SERVER_FIXTURES[f] for f in getattr(item, "fixturenames", ()) if f in SERVER_FIXTURES}
    callspec = getattr(item, "callspec", None)
    for value in callspec.params.values() if callspec is not None else ():
        if isinstance(value, str):
            needs.update(set(value.split("-")) & {"postgres", "redis"})
    return needs


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for server in sorted(_servers(item)):
            item.add_marker(server)


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
def _close_databases() -> Iterator[None]:
    """Each test's engines (and their pooled connections) are closed after it."""
    yield
    close_databases()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's keys or data dir: every variable the provider registry
    names (so a new provider's key cannot leak in) and every ``VITCO_*`` one is unset."""
    provider_vars = set(provider_env_names())
    for name in list(os.environ):
        if name.startswith("VITCO_") or name in provider_vars:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VITCO_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="session", autouse=True)
def _cheap_key_hashes() -> Iterator[None]:
    """API keys a test issues are hashed with argon2id at its lowest cost (one pass over 8 KiB,
    one lane) instead of vitco's (three over 64 MiB, four lanes: half a CPU second to hash and
    verify a key, the point in production). A hash carries its parameters, so every process
    verifies these at that cost too; what is tested (argon2id, the key never stored, refused
    when wrong, revoked or expired) is the same."""
    with pytest.MonkeyPatch.context() as patch:
        cheapest = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        patch.setattr(vitco.api.keys, "_hasher", cheapest)
        yield


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


POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A database of our own on the PostgreSQL server (created for this test session, dropped
    after it); yields its SQLAlchemy URL. Skips locally, fails under CI, without a server."""
    try:
        import psycopg
    except ImportError:
        skip_or_fail("psycopg is not installed (pip install 'vitco[postgres]')")
    name = f"vitco_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        skip_or_fail(f"no PostgreSQL server at 127.0.0.1:5432 ({exc})")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_client() -> Iterator[Any]:
    """A client of the Redis server; skips locally, fails under CI, without one."""
    try:
        import redis
    except ImportError:
        skip_or_fail("redis-py is not installed (pip install 'vitco[redis]')")
    client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        skip_or_fail(f"no Redis server at 127.0.0.1:6379 ({exc})")
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: Any) -> Iterator[str]:
    """A keyspace of this test's own; its keys are deleted afterwards (and only those)."""
    prefix = f"vitco-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    for key in redis_client.scan_iter(match=prefix + "*"):
        redis_client.delete(key)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh schema of this test's own in the session's PostgreSQL database (its URL)."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:10]}"
    plain = postgres_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{postgres_server}?options=-csearch_path%3D{schema}"
    yield url
    close_databases(url)
    # dropped now, while the other workers run, rather than all at the session's end (the
    # last worker's teardown took 8-26 s with every schema left); a schema another process
    # still holds is left to the database's drop
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '2s'")
        with contextlib.suppress(psycopg.errors.LockNotAvailable):
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on the embedded (SQLite) and the distributed (PostgreSQL) database."""
    if request.param == "postgres":
        yield request.getfixturevalue("postgres_url")
        return
    url = f"sqlite:///{tmp_path / 'vitco.sqlite'}"
    yield url
    close_databases(url)


@pytest.fixture
def sandbox(settings: Settings) -> Iterator[Sandbox]:
    """The sandbox vitco runs delivered code in; skips (fails under CI) where it can't run."""
    try:
        yield get_sandbox(settings)
    except SandboxUnavailable as exc:
        skip_or_fail(f"the sandbox cannot run here: {exc}")


@pytest.fixture
def standin_toolchain() -> Iterator[None]:
    """The tests' stand-in for the python-service toolchain in this process while the test
    runs (``tests.standin``): for tests that deliver the demo and are not about its toolchain."""
    with installed():
        yield
