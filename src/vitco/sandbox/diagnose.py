"""Can this machine run the sandbox, and if not, why and what fixes it (``vitco doctor``)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from vitco.config import Settings
from vitco.sandbox.bwrap import BwrapSandbox
from vitco.sandbox.exceptions import SandboxUnavailable
from vitco.sandbox.identity import subordinate_range

Status = Literal["ok", "warn", "fail"]

_INSTALL = "run `sudo scripts/install-system.sh`"

# Run inside the sandbox: what it can reach. One line of JSON.
_PROBE = """
import json, os, socket
def writable(p):
    try:
        open(p, "w").close(); os.unlink(p); return True
    except OSError:
        return False
print(json.dumps({
    "uid": os.getuid(),
    "interfaces": [n for _, n in socket.if_nameindex()],
    "etc_writable": writable("/etc/vitco-doctor-probe"),
    "workspace_writable": writable("probe"),
}))
"""


@dataclass(frozen=True)
class Finding:
    """One finding: ``name`` of the check, ``status``, what was seen, and the fix if any."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _tool(name: str, package: str) -> Finding:
    path = shutil.which(name)
    if path is None:
        return Finding(name, "fail", "not installed", f"{_INSTALL} (apt-get install -y {package})")
    detail = path
    if name == "bwrap":
        out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
        detail = f"{path} ({out.stdout.strip() or 'unknown version'})"
    return Finding(name, "ok", detail)


def _userns() -> Finding:
    if os.geteuid() == 0:
        return Finding("user namespaces", "ok", "not needed: vitco runs as root")
    max_ns = _read("/proc/sys/user/max_user_namespaces")
    if max_ns == "0":
        return Finding(
            "user namespaces",
            "fail",
            "user.max_user_namespaces = 0",
            "sysctl -w user.max_user_namespaces=15000",
        )
    if _read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        return Finding(
            "user namespaces",
            "fail",
            "kernel.unprivileged_userns_clone = 0",
            "sysctl -w kernel.unprivileged_userns_clone=1",
        )
    if _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
        return Finding(
            "user namespaces",
            "warn",
            "AppArmor restricts unprivileged user namespaces",
            "add an AppArmor profile allowing userns for /usr/bin/bwrap, or "
            "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
        )
    return Finding("user namespaces", "ok", f"enabled (max {max_ns or '?'})")


def _sandbox_user(settings: Settings) -> Finding:
    name = "sandbox uid"
    if os.geteuid() != 0:
        user = pwd.getpwuid(os.geteuid()).pw_name
        return Finding(name, "ok", f"vitco runs unprivileged: commands run as {user!r}")
    try:
        entry = pwd.getpwnam(settings.sandbox_user)
    except KeyError:
        return Finding(
            name,
            "fail",
            f"vitco runs as root and user {settings.sandbox_user!r} does not exist",
            f"{_INSTALL} (creates {settings.sandbox_user!r})",
        )
    if entry.pw_uid == 0:
        return Finding(
            name, "fail", f"{settings.sandbox_user!r} is uid 0", "use an unprivileged user"
        )
    return Finding(name, "ok", f"{settings.sandbox_user!r} (uid {entry.pw_uid})")


def _uid_range(settings: Settings) -> Finding:
    name = "project uids"
    if os.geteuid() != 0:
        return Finding(name, "warn", "vitco runs unprivileged: all projects share its uid", "")
    found = subordinate_range(settings.sandbox_user)
    if found is None:
        return Finding(
            name,
            "fail",
            f"no subordinate uid/gid range for {settings.sandbox_user!r} in /etc/subuid and "
            "/etc/subgid (each project runs as its own uid)",
            f"{_INSTALL} (reserves 65536 ids)",
        )
    first_uid, first_gid, count = found
    return Finding(
        name,
        "ok",
        f"{count - 1} projects, uids {first_uid}.. and gids {first_gid}.. (one per project)",
    )


def _trial(settings: Settings) -> list[Finding]:
    """Start a real sandbox and check what the command inside can reach."""
    try:
        sandbox = BwrapSandbox(
            user=settings.sandbox_user,
            protected=[settings.home],
            state_root=settings.sandbox_state_dir,
        )
    except SandboxUnavailable as exc:
        return [Finding("bwrap sandbox", "fail", exc.reason, exc.fix)]
    with tempfile.TemporaryDirectory(prefix="vitco-doctor-") as tmp:
        result = sandbox.run([sys.executable, "-c", _PROBE], Path(tmp))
    if not result.ok:
        detail = (result.stderr or result.stdout).strip()[-300:]
        return [Finding("bwrap sandbox", "fail", f"probe failed: {detail}", "report this as a bug")]
    seen = json.loads(result.stdout)
    checks = [Finding("bwrap sandbox", "ok", f"started in {result.duration_s * 1000:.0f} ms")]
    isolated = seen["interfaces"] == ["lo"]
    checks.append(
        Finding("no network", "ok" if isolated else "fail", f"interfaces: {seen['interfaces']}")
    )
    confined = not seen["etc_writable"] and seen["workspace_writable"]
    checks.append(
        Finding(
            "filesystem",
            "ok" if confined else "fail",
            "writes only to its workspace" if confined else f"probe saw {seen}",
        )
    )
    unprivileged = seen["uid"] != 0
    checks.append(
        Finding(
            "unprivileged",
            "ok" if unprivileged else "fail",
            f"runs as uid {seen['uid']}",
            "" if unprivileged else f"{_INSTALL} (creates {settings.sandbox_user!r})",
        )
    )
    return checks


def diagnose(settings: Settings) -> list[Finding]:
    """Every sandbox check, in order; the sandbox works if none has status ``fail``."""
    checks = [
        Finding(
            "platform",
            "ok" if sys.platform == "linux" else "fail",
            sys.platform,
            "" if sys.platform == "linux" else "bubblewrap needs Linux; set VITCO_SANDBOX=unsafe",
        ),
        _tool("bwrap", "bubblewrap"),
        _tool("prlimit", "util-linux"),
    ]
    if os.geteuid() == 0:
        checks.append(_tool("setpriv", "util-linux"))
    checks += [_userns(), _sandbox_user(settings), _uid_range(settings)]
    if all(c.status != "fail" for c in checks):
        checks += _trial(settings)
    if settings.sandbox == "unsafe":
        checks.append(
            Finding(
                "configured sandbox",
                "warn",
                "VITCO_SANDBOX=unsafe: delivered code runs WITHOUT isolation",
                "unset VITCO_SANDBOX once the checks above pass",
            )
        )
    else:
        checks.append(Finding("configured sandbox", "ok", "bwrap"))
    return checks
