"""One conformance suite for ``DeployTarget``: the local target (the app in the real sandbox),
the command target (a user's ship script, the build in the sandbox) and Vercel (against the
in-repo fake). Each deploys a release, smoke-tests it, and puts the previous deployment back
when the smoke test of a new one fails; then the boundaries of the command target."""

from __future__ import annotations

import sys
import tarfile
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tests.fakes.vercel_server import FakeVercel
from vitco.integrations.deploy import SmokeRequest, SmokeResult
from vitco.integrations.deploy.command import CommandTarget, ShipFailed
from vitco.integrations.deploy.exceptions import DeployError
from vitco.integrations.deploy.local_target import LocalTarget
from vitco.integrations.deploy.smoke import SmokeSession
from vitco.integrations.deploy.target import DeployTarget, Live, Release, export, ship
from vitco.integrations.deploy.vercel import VercelTarget
from vitco.integrations.git import Repo
from vitco.sandbox import Limits, Sandbox

TOKEN = "vercel_token_conformance_0123"
LIMITS = Limits(cpu_s=30, memory_mb=1024, wall_s=60.0)
# the app of the local target: serves the release's files on the socket handed in (argv[1])
APP = """
import socket, socketserver, sys
from http.server import SimpleHTTPRequestHandler

class Handler(SimpleHTTPRequestHandler):
    def address_string(self):
        return "unix"

class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

server = Server(None, Handler, bind_and_activate=False)
server.socket = socket.socket(fileno=int(sys.argv[1]))
server.serve_forever()
"""
# the user's ship script (argv: where their server serves from, its URL, then the release's
# tarball, which vitco appends): unpacks the release there and prints the URL
SHIP = """
import os, shutil, sys, tarfile
www = sys.argv[1]
shutil.rmtree(www, ignore_errors=True)
os.makedirs(www)
with tarfile.open(sys.argv[3]) as tar:
    tar.extractall(www, filter="data")
with open(os.path.join(os.path.dirname(www), "env.txt"), "w") as out:
    out.write(repr(sorted(os.environ)) + "\\n" + os.getcwd())
print("shipping", os.environ["VITCO_COMMIT"])
print(sys.argv[2])
"""


class StaticSite:
    """The user's server: static files from ``root`` on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self.root = root
        handler = partial(_Quiet, directory=str(root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


HEALTH_S = 6.0
"""How long the local target waits for a release to answer its health check: v3 never does, so
each test that ships it waits all of it (20 s took 40 s of the suite); v1 and v2 answer within
a second."""


@pytest.fixture(params=["local", "command", "vercel"])
def target(
    request: pytest.FixtureRequest, sandbox: Sandbox, tmp_path: Path
) -> Iterator[DeployTarget]:
    with httpx.Client(timeout=10) as client:
        if request.param == "local":
            local = LocalTarget(sandbox, client, start=["python3", "app.py", "{fd}"],
                                limits=LIMITS, health_timeout_s=HEALTH_S)  # fmt: skip
            yield local
            local.close()
        elif request.param == "command":
            site = StaticSite(tmp_path / "www")
            script = tmp_path / "ship.py"
            script.write_text(SHIP, encoding="utf-8")
            argv = [sys.executable, str(script), str(tmp_path / "www"), site.url]
            yield CommandTarget(sandbox, ship=argv, limits=LIMITS)
            site.close()
        else:
            with FakeVercel(TOKEN) as fake:
                yield VercelTarget(client, SecretStr(TOKEN), api_url=fake.url, scheme="http",
                                   poll_s=0, sleep=lambda _s: None)  # fmt: skip
                assert fake.errors == []


def _project(path: Path) -> tuple[Repo, list[str]]:
    """A repository with three releases: v1 and v2 healthy, v3 without its health file."""
    repo = Repo.init(path)
    shas = []
    for version in ("v1", "v2", "v3"):
        (path / "app.py").write_text(APP, encoding="utf-8")
        (path / "index.html").write_text(f"<h1>{version}</h1>\n", encoding="utf-8")
        health = path / "health"
        if version == "v3":
            health.unlink()
        else:
            health.write_text(version + "\n", encoding="utf-8")
        repo.git("add", "-A")
        repo.git("commit", "-q", "-m", version)
        shas.append(repo.head())
    return repo, shas


def _smoke(client: httpx.Client, live: Live) -> list[SmokeResult]:
    return SmokeSession(client).run(live.url, [SmokeRequest(path="/health")])


def _serves(client: httpx.Client, live: Live) -> str:
    return client.get(f"{live.serving}/health").text.strip()


def test_a_failed_smoke_test_puts_the_previous_deployment_back(
    target: DeployTarget, tmp_path: Path
) -> None:
    repo, (v1, v2, v3) = _project(tmp_path / "project")
    releases = tmp_path / "releases"

    def release(sha: str) -> Release:
        return export(repo, sha, releases, "p-1", "Shop API")

    with httpx.Client(timeout=10) as client:
        smoke = partial(_smoke, client)
        first = ship(target, release(v1), smoke)
        assert first.ok and first.live is not None and _serves(client, first.live) == "v1"
        second = ship(target, release(v2), smoke, previous=(first.live, release(v1)))
        assert second.ok and second.live is not None and _serves(client, second.live) == "v2"
        bad = ship(target, release(v3), smoke, previous=(second.live, release(v2)))
        assert bad.rolled_back and not bad.ok
        # the new one failed its check (the local target: its health check while starting)...
        assert bad.error or (bad.smoke and not bad.smoke[0].ok)
        assert bad.live is not None and bad.live.commit == v2
        assert _serves(client, bad.live) == "v2"  # ...and the previous one is live again


def test_a_first_release_that_fails_is_not_live(target: DeployTarget, tmp_path: Path) -> None:
    repo, (_v1, _v2, v3) = _project(tmp_path / "project")
    with httpx.Client(timeout=10) as client:
        shipped = ship(target, export(repo, v3, tmp_path / "r", "p-1", "x"),
                       partial(_smoke, client))  # fmt: skip
    assert shipped.live is None and not shipped.ok and not shipped.rolled_back


def test_an_export_holds_only_the_commits_regular_files(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "project")
    (repo.path / "real.txt").write_text("data\n", encoding="utf-8")
    (repo.path / "link").symlink_to("/etc/hostname")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "a link")
    (repo.path / "untracked.txt").write_text("not committed\n", encoding="utf-8")
    made = export(repo, "main", tmp_path / "releases", "p-1", "Proj")
    assert sorted(p.name for p in made.tree.iterdir()) == [".gitignore", "real.txt"]
    with tarfile.open(made.tarball) as tar:
        assert all(m.isfile() for m in tar.getmembers())


def test_the_command_target_builds_in_the_sandbox_and_ships_only_regular_files(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    repo, (v1, _v2, _v3) = _project(tmp_path / "project")
    script = tmp_path / "ship.py"
    script.write_text(SHIP, encoding="utf-8")
    site = StaticSite(tmp_path / "www")
    build = ["sh", "-c", "id -u > built.txt && ln -s /etc/hostname leak && mkfifo pipe"]
    argv = [sys.executable, str(script), str(tmp_path / "www"), site.url]
    target = CommandTarget(sandbox, ship=argv, build=build, limits=LIMITS)
    try:
        live = target.deploy(export(repo, v1, tmp_path / "releases", "p-1", "Shop"))
    finally:
        site.close()
    shipped = tmp_path / "www"
    assert (shipped / "built.txt").read_text().strip() != "0"  # built as the sandbox's uid
    assert not (shipped / "leak").exists() and not (shipped / "pipe").exists()
    names, cwd = (tmp_path / "env.txt").read_text().splitlines()
    # nothing of vitco's (Python itself adds LC_CTYPE under the C locale, PEP 538)
    assert set(eval(names)) - {"LC_CTYPE"} == {"HOME", "PATH", "VITCO_COMMIT", "VITCO_PROJECT"}
    assert not Path(cwd).is_relative_to(tmp_path / "releases" / v1 / "tree")
    assert live.url == site.url and live.commit == v1


def test_a_failing_or_silent_ship_command_is_a_typed_error(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    repo, (v1, _v2, _v3) = _project(tmp_path / "project")
    release = export(repo, v1, tmp_path / "releases", "p-1", "Shop")
    for code, reason in (("import sys; sys.exit(3)", "exited with status 3"),
                         ("print('done')", "printed no http(s):// URL")):  # fmt: skip
        failing = CommandTarget(sandbox, ship=[sys.executable, "-c", code])
        with pytest.raises(ShipFailed) as failed:
            failing.deploy(release)
        assert reason in str(failed.value)
    with pytest.raises(DeployError):
        CommandTarget(sandbox, ship=[])


def test_vercel_errors_are_typed_and_never_hold_the_token(tmp_path: Path) -> None:
    repo, (v1, _v2, _v3) = _project(tmp_path / "project")
    (repo.path / "VERCEL_FAIL").write_text("x", encoding="utf-8")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "fails to build")
    with FakeVercel(TOKEN) as fake, httpx.Client(timeout=10) as client:
        bad_token = VercelTarget(client, SecretStr("wrong_token_x"), api_url=fake.url,
                                 sleep=lambda _s: None)  # fmt: skip
        with pytest.raises(DeployError) as refused:
            bad_token.deploy(export(repo, v1, tmp_path / "r", "p-1", "Shop"))
        assert "403" in str(refused.value) and "wrong_token_x" not in str(refused.value)
        waits: list[float] = []
        vercel = VercelTarget(client, SecretStr(TOKEN), api_url=fake.url, poll_s=1.5,
                              sleep=waits.append)  # fmt: skip
        with pytest.raises(DeployError) as failed:
            vercel.deploy(export(repo, "main", tmp_path / "r", "p-1", "Shop"))
        assert "Build failed: VERCEL_FAIL" in str(failed.value) and waits == [1.5, 1.5]
        sent = next(c for c in fake.calls if c.path == "/v13/deployments" and
                    c.headers["authorization"] == f"Bearer {TOKEN}").json()  # fmt: skip
        files = {f["file"] for f in sent["files"]}
        assert sent["target"] == "production" and {"VERCEL_FAIL", "app.py"} <= files
