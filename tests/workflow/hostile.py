"""A hostile program for the security tests: it tries every way out of the sandbox it knows.

``probe_source(target)`` is Python source that, run in any sandboxed step (a test, the
dependency install, a build step, the deployed app, a smoke request), tries to reach the host:
its loopback TCP services and Redis, a host unix socket, host files (append, read), vitco's
database, another project's files, a host process, root; and it plants links where vitco used to
keep a deployment's log and socket. It writes what happened to ``probe-<tag>.json`` in its
working directory and ``run_probe`` returns the attacks that were NOT refused, so a caller can
turn any success into a visible failure. The host side of each test checks the same things from
outside (``HostView``).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.fakes import CountingListener

PROBE = r"""
import json, os, socket, sys

T = json.loads(TARGET_JSON)
out = {}


def attempt(name, fn):
    try:
        value = fn()
        out[name] = ["ok", repr(value)[:120]]
    except BaseException as exc:
        out[name] = ["refused", type(exc).__name__]


def tcp():
    socket.create_connection(("127.0.0.1", T["port"]), timeout=1).close()


def redis():
    s = socket.create_connection(("127.0.0.1", 6379), timeout=1)
    key = T["redis_key"].encode()
    s.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$5\r\npwned\r\n" % (len(key), key))
    return s.recv(64)


def unix():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1)
    s.connect(T["unix"])
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")


def append(path):
    with open(path, "a") as fh:
        fh.write("ssh-rsa AAAA attacker@vitco\n* * * * * root touch /tmp/pwned\n")


def read(path):
    with open(path, "rb") as fh:
        data = fh.read(64)
    if not data:
        raise PermissionError("empty: masked")
    return data


def plant():
    os.makedirs(".vitco", exist_ok=True)
    links = (("app.log", T["target"]), ("app.sock", T["unix"]), ("junit.xml", T["secret"]))
    for name, dest in links:
        path = os.path.join(".vitco", name)
        if os.path.lexists(path):
            os.remove(path)
        os.symlink(dest, path)
    if not os.path.lexists("up"):
        os.symlink("../..", "up")  # what a mount following .vitco -> ../.. would have exposed
    return "planted"


attempt("tcp_listener", tcp)
attempt("redis", redis)
attempt("host_unix_socket", unix)
attempt("append_host_file", lambda: append(T["target"]))
attempt("read_host_secret", lambda: read(T["secret"]))
attempt("read_vitco_db", lambda: read(T["db"]))
attempt("read_db_through_link", lambda: read(os.path.join("up", os.path.basename(T["db"]))))
attempt("write_other_project", lambda: append(T["other"]))
attempt("kill_host_process", lambda: os.kill(T["sentinel"], 9))
attempt("become_root", lambda: os.setuid(0))
attempt("read_shadow", lambda: read("/etc/shadow"))
attempt("read_subuid", lambda: read("/etc/subuid"))
attempt("plant_links", plant)
out["plant_links"] = ["planted", out["plant_links"][1]]  # allowed: its own workspace


def escaped():
    return {k: v for k, v in out.items() if v[0] == "ok"}


with open("probe-%s.json" % TAG, "w") as fh:
    json.dump(out, fh)
"""


def probe_source(target: dict[str, object], tag: str) -> str:
    """The probe as one program with its targets and its tag baked in."""
    return f"TARGET_JSON = {json.dumps(json.dumps(target))}\nTAG = {tag!r}\n" + PROBE


def probe_script(target: dict[str, object], tag: str) -> str:
    """The probe as a command's program: exits 1 (printing what got out) if anything did."""
    return probe_source(target, tag) + (
        "\nif escaped():\n    print('ESCAPED', json.dumps(escaped()))\n    sys.exit(1)\n"
    )


@dataclass
class HostView:
    """What a hostile program must not change, seen from the host, before and after."""

    root: Path
    other_project: Path
    db: Path
    redis_client: object
    target: Path = field(init=False)
    secret: Path = field(init=False)
    unix_path: Path = field(init=False)
    redis_key: str = field(default_factory=lambda: f"vitco-test:pwned:{uuid.uuid4().hex}")

    def __post_init__(self) -> None:
        host = self.root / "host"
        host.mkdir(parents=True)
        self.target = host / "authorized_keys"
        self.target.write_text("ssh-ed25519 AAAA owner@host\n")
        self.secret = host / "secret.txt"
        self.secret.write_text(f"TOP-SECRET-{uuid.uuid4().hex}\n")
        self.unix_path = host / "svc.sock"
        self.tcp = CountingListener()
        self.unix = CountingListener(self.unix_path)
        self.sentinel = subprocess.Popen(["sleep", "300"])
        self._before = self.snapshot()

    def target_spec(self) -> dict[str, object]:
        return {
            "port": self.tcp.port,
            "redis_key": self.redis_key,
            "unix": str(self.unix_path),
            "target": str(self.target),
            "secret": str(self.secret),
            "db": str(self.db),
            "other": str(self.other_project / "calc.py"),
            "sentinel": self.sentinel.pid,
        }

    def snapshot(self) -> dict[str, str]:
        files = [self.target, self.secret, *sorted(self.other_project.rglob("*.py"))]
        return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}

    def problems(self) -> list[str]:
        """Everything that changed on the host; empty when nothing got out."""
        found = []
        if self.snapshot() != self._before:
            found.append("a host file or another project's file changed")
        if self.tcp.hits:
            found.append(f"the host's TCP listener was reached {self.tcp.hits} times")
        if self.unix.hits:
            found.append(f"the host's unix socket was reached {self.unix.hits} times")
        if self.redis_client.exists(self.redis_key):  # type: ignore[attr-defined]
            found.append("Redis on the host's loopback was written")
        if self.sentinel.poll() is not None:
            found.append("a host process was killed")
        return found

    def close(self) -> None:
        self.tcp.close()
        self.unix.close()
        self.sentinel.kill()
        self.sentinel.wait()
        self.redis_client.delete(self.redis_key)  # type: ignore[attr-defined]


def make_wheel(folder: Path, name: str = "tinydep", version: str = "1.0") -> Path:
    """A minimal pure-Python wheel (no build step, so pip needs no network to install it).

    Self-contained (its imports inside), so a test program run in the sandbox can carry its
    source (``inspect.getsource``) and build one there.
    """
    import base64
    import hashlib
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "def answer():\n    return 42\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    records = []
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            data = text.encode()
            zf.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append(f"{path},sha256={digest},{len(data)}")
        records.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(records) + "\n")
    return wheel
