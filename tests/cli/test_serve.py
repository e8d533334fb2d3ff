"""`vitco tenants create`, `vitco keys create` and `vitco serve` as a user runs them: separate
processes on one data dir, the server on a free port of 127.0.0.1; a server stopped while a
live event stream is open still exits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.processes import free_port

VITCO = [sys.executable, "-m", "vitco.cli"]


def test_a_key_made_on_the_command_line_calls_the_served_api(short_home: Path) -> None:
    env = os.environ | {"VITCO_HOME": str(short_home)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*VITCO, *args], env=env, capture_output=True, text=True, timeout=60)

    assert run("tenants", "create", "acme").returncode == 0
    made = run("keys", "create", "--tenant", "acme", "--role", "manager", "--json")
    key = json.loads(made.stdout)["key"]
    listed = json.loads(run("keys", "list", "--tenant", "acme", "--json").stdout)["keys"]
    assert [k["role"] for k in listed] == ["manager"] and key not in made.stderr
    assert run("keys", "create", "--tenant", "nope", "--role", "admin").returncode == 1
    assert run("keys", "create", "--tenant", "acme", "--role", "root").returncode == 1

    port = free_port()
    server = subprocess.Popen(
        [*VITCO, "serve", "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=5) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get("/v1/health")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline and server.poll() is None
                    time.sleep(0.2)
            me = client.get("/v1/me", headers={"Authorization": f"Bearer {key}"})
            assert me.json()["tenant_id"] == "acme" and me.json()["role"] == "manager"
            assert client.get("/v1/me").status_code == 401
            live = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
            with client.stream("GET", "/v1/events", headers=live) as stream:
                assert stream.status_code == 200  # a stream that never ends by itself...
                server.terminate()
                assert server.wait(30) is not None  # ...does not keep the server up
    finally:
        server.terminate()
        assert server.wait(30) is not None
        assert server.stderr is not None
        server.stderr.close()
