"""The real sandbox: bubblewrap namespaces + rlimits, no daemon, ~10 ms to start.

What a command sees (built from nothing, never ``--ro-bind / /``, which would expose vitco's
data dir, other projects and the host's home):

- ``/usr``, ``/bin``, ``/sbin``, ``/lib*``, ``/opt`` and ``/etc`` read-only, with the secrets in
  ``/etc`` (shadow, sudoers, ssh host keys, private TLS keys) masked;
- the Python that runs vitco read-only: ``sys.base_prefix`` and ``sys.prefix`` only;
- its workspace read-write at the same absolute path (venv shebangs are absolute), except
  every ``.git`` in it (the repo's, and the gitfiles of worktrees inside it), which are
  read-only: a hook, ``core.fsmonitor`` or ``gitdir:`` written there would otherwise run
  outside the sandbox the next time vitco runs git. So a workspace must be a git repo before
  sandboxed code first runs in it, or that code could plant a ``.git`` of its own.
  ``writable`` narrows the writable part;
- a private ``/tmp`` (HOME is ``/tmp/home``), ``/proc`` of its own pid namespace, a minimal
  ``/dev``; no network namespace shared with the host unless ``network=True`` (then only for
  e.g. the dependency install), so only its own loopback;
- its own pid namespace: when the command exits, or vitco kills the sandbox, every process in
  it dies, including ones that called ``setsid``.

The uid question. As uid 0 the kernel ignores RLIMIT_NPROC, so when vitco runs as root the
command must run as a dedicated unprivileged uid (``vitco-sandbox``). Measured options:

- ``bwrap --unshare-user --uid N`` as root maps the sandbox uid onto the caller's, i.e. still
  kuid 0 outside: the process limit stays ignored. Rejected.
- ``setpriv`` to the uid *before* bwrap: bwrap then cannot even reach the bind sources
  (``/root`` is 0700 and holds the Python and the data dir). Rejected.
- Chosen: bwrap runs as root *without* a user namespace, so it can set up every mount, keeps
  only CAP_SETUID/SETGID/SETPCAP, and execs ``setpriv --reuid --regid --clear-groups
  --bounding-set=-all --inh-caps=-all`` inside; the command then runs as kuid ``vitco-sandbox``
  with no capabilities and NO_NEW_PRIVS. The mount points bwrap creates (e.g. ``/root``) are
  0755 dirs on its own tmpfs, so the uid can reach its binds without seeing the host's dirs.
  For the workspace to be writable, before each command vitco hands its contents to the uid,
  walking with ``os.fwalk`` and never following symlinks (~12 ms for 1,700 files, a small
  venv; a no-op for files already handed over). Every ``.git``, and the directory holding
  it (the workspace, a worktree), stays root's; those directories only get the uid's group
  with g+rwx. So git, run by root, does not reject a repo for "dubious ownership", and root
  reads and writes the files the sandbox created (it has the capability; it needs not own
  them). Measured alternatives: ACLs need ``setfacl`` and an ACL-capable filesystem and work
  no better; chown-and-back after each command breaks while a deployed app runs.
- A pids cgroup would also do, but needs a writable cgroup tree (not here: /sys/fs/cgroup is
  read-only in this VM) and a systemd or cgroup manager on other hosts.

Known limit of the uid approach: RLIMIT_NPROC counts all processes of the uid, so concurrent
sandboxes share ``processes``; a fork bomb in one may make fork fail in another until it is
killed. Don't give the uid to any service.

When vitco itself runs unprivileged, no uid switch is possible or needed: bwrap creates a user
namespace (the command keeps vitco's uid outside, RLIMIT_NPROC applies to non-root anyway).
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from vitco.sandbox import _process
from vitco.sandbox._pidns import PidNamespace
from vitco.sandbox.exceptions import (
    BwrapMissing,
    SandboxUnavailable,
    SandboxUserMissing,
    ToolMissing,
    UserNamespacesDisabled,
)
from vitco.sandbox.limits import prlimit_argv, to_result
from vitco.sandbox.protocol import Limits, OutputCallback, Process, Result
from vitco.sandbox.workspace import (
    PRIVATE_DIR,
    base_env,
    check_workspace,
    check_writable,
    fits,
    fresh_socket,
    python_dirs,
    substitute_socket,
)

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/etc")
# Masked inside /etc: files become /dev/null, directories an empty tmpfs.
ETC_SECRETS = (
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ssh",
    "/etc/ssl/private",
    "/etc/security/opasswd",
    "/etc/vitco",
)
# Never searched for a .git when nothing needs chowning (big, and never a repo of vitco's).
_NO_REPOS = frozenset({".venv", "node_modules", "__pycache__"})
HOME = Path("/tmp/home")
TMP = Path("/tmp")


# Inside the sandbox, where a too-long workspace socket directory is mounted (short enough for a
# unix socket address; the sandbox has its own mount namespace, so it shadows nothing).
SHORT_SOCKET_DIR = Path("/run/vitco-app")


def _which(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolMissing(tool)
    return path


def _resolver_files() -> list[Path]:
    """DNS for a networked step: /etc/resolv.conf may be a symlink out of /etc (systemd-resolved
    points it into /run), whose target must then be bound too."""
    conf = Path("/etc/resolv.conf")
    if not conf.is_symlink():
        return []
    target = Path(os.path.realpath(conf))
    return [target] if target.is_file() and Path("/etc") not in target.parents else []


class BwrapSandbox:
    """Runs commands in bubblewrap (see the module docstring for what they can see and do).

    ``user`` is the unprivileged account commands run as when vitco runs as root; ``protected``
    are paths (vitco's data dir) a workspace must never contain. Construction checks that
    bwrap works here and raises a ``SandboxUnavailable`` naming the fix if not.
    """

    name = "bwrap"

    def __init__(self, *, user: str = "vitco-sandbox", protected: Sequence[Path] = ()) -> None:
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise BwrapMissing()
        self.bwrap = bwrap
        self.prlimit = _which("prlimit")
        self.protected = list(protected)
        self.ids: tuple[int, int] | None = None
        if os.geteuid() == 0:
            self.setpriv = _which("setpriv")
            try:
                entry = pwd.getpwnam(user)
            except KeyError:
                raise SandboxUserMissing(user) from None
            if entry.pw_uid == 0 or entry.pw_gid == 0:
                raise SandboxUnavailable(
                    f"sandbox user {user!r} is uid or gid 0",
                    "set VITCO_SANDBOX_USER to an unprivileged user used by no service",
                )
            self.ids = (entry.pw_uid, entry.pw_gid)
        self.user = user if self.ids else pwd.getpwuid(os.geteuid()).pw_name
        self._preflight()

    def _preflight(self) -> None:
        """Start one empty sandbox so a broken setup fails here, with the reason."""
        with tempfile.TemporaryDirectory(prefix="vitco-preflight-") as tmp:
            ws = Path(tmp)
            self._grant(ws)
            argv = self._argv(["true"], ws, Limits(), network=False, writable=[ws])
            finished = _process.run(
                argv, cwd=ws, env=base_env(ws, HOME, TMP, None), wall_s=30, output_bytes=65536
            )
        if finished.returncode != 0:
            raise UserNamespacesDisabled(finished.stderr.decode("utf-8", "replace"))

    def _namespaces(self, network: bool) -> list[str]:
        # As root no user namespace: bwrap would map the sandbox uid to kuid 0 and the uid
        # switch to the sandbox user would have nothing to map to.
        ns = [] if self.ids else ["--unshare-user"]
        ns += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
        if not network:
            ns.append("--unshare-net")
        return ns

    def _argv(
        self,
        cmd: Sequence[str],
        ws: Path,
        limits: Limits,
        *,
        network: bool,
        writable: Sequence[Path],
        git: Sequence[Path] = (),
        pidns: PidNamespace | None = None,
        alias: Path | None = None,
    ) -> list[str]:
        argv = [self.bwrap, *self._namespaces(network), "--die-with-parent", "--new-session"]
        if pidns is not None:
            argv += pidns.argv()
        argv += ["--hostname", "vitco-sandbox", "--cap-drop", "ALL"]
        if self.ids:
            for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"):
                argv += ["--cap-add", cap]
        for sysdir in SYSTEM_DIRS:
            if os.path.islink(sysdir):
                argv += ["--symlink", os.readlink(sysdir), sysdir]
            elif os.path.isdir(sysdir):
                argv += ["--ro-bind", sysdir, sysdir]
        for secret in ETC_SECRETS:
            if os.path.isdir(secret) and not os.path.islink(secret):
                argv += ["--tmpfs", secret]
            elif os.path.lexists(secret):
                argv += ["--ro-bind", "/dev/null", secret]
        argv += ["--proc", "/proc", "--dev", "/dev"]
        argv += ["--perms", "1777", "--tmpfs", str(TMP), "--perms", "0777", "--dir", str(HOME)]
        # After /tmp: a workspace or a Python may live under it. bwrap creates missing parents
        # of a mount point 0700, which the sandbox uid could not traverse: create them 0755.
        made: set[Path] = {Path("/"), TMP}
        extra_ro = _resolver_files() if network else []
        for target in (*python_dirs(), *extra_ro, ws):
            for parent in reversed(target.parents):
                if parent not in made:
                    made.add(parent)
                    argv += ["--perms", "0755", "--dir", str(parent)]
        for d in (*python_dirs(), *extra_ro):
            argv += ["--ro-bind", str(d), str(d)]
        if list(writable) == [ws]:
            argv += ["--bind", str(ws), str(ws)]
        else:
            argv += ["--ro-bind", str(ws), str(ws)]
            for w in writable:
                argv += ["--bind", str(w), str(w)]
        for entry in git:
            if not entry.is_symlink():
                argv += ["--ro-bind", str(entry), str(entry)]
        if alias is not None:  # a socket path too long for an address: a short mount of its dir
            argv += ["--perms", "0755", "--dir", str(SHORT_SOCKET_DIR.parent)]
            argv += ["--bind", str(alias), str(SHORT_SOCKET_DIR)]
        argv += ["--chdir", str(ws), "--"]
        if self.ids:
            uid, gid = self.ids
            argv += [self.setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
            argv += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
        return [*argv, *prlimit_argv(limits), *cmd]

    def _grant(self, ws: Path) -> list[Path]:
        """Find every ``.git`` in the workspace (they are mounted read-only) and, as root,
        make the rest writable by the sandbox uid (see the module docstring).

        A directory holding a ``.git`` (the workspace, or a git worktree inside it) keeps its
        owner and only gets the sandbox group with g+rwx: git refuses a repository whose top
        directory another user owns. Without a uid switch nothing is chowned and the walk
        skips trees that never hold a repository of vitco's.
        """
        found: list[Path] = []
        for root, dirs, files, root_fd in os.fwalk(ws, follow_symlinks=False):
            if ".git" in dirs or ".git" in files:
                found.append(Path(root) / ".git")
                dirs[:] = [d for d in dirs if d != ".git"]  # pruned: stays root's
                files = [f for f in files if f != ".git"]
                self._own(root_fd, keep_owner=True)
            else:
                self._own(root_fd, keep_owner=root == str(ws))
            if self.ids is None:
                dirs[:] = [d for d in dirs if d not in _NO_REPOS]
                continue
            uid, gid = self.ids
            # fwalk opened this directory relative to its parent's fd without following
            # symlinks, so a symlink swapped in by a running sandbox cannot redirect a chown.
            for name in files:
                st = os.stat(name, dir_fd=root_fd, follow_symlinks=False)
                if st.st_uid != uid or st.st_gid != gid:
                    os.chown(name, uid, gid, dir_fd=root_fd, follow_symlinks=False)
        return found

    def _own(self, dir_fd: int, *, keep_owner: bool) -> None:
        """As root: give a directory (by fd) to the sandbox uid, or, with ``keep_owner``, only
        to its group with g+rwx."""
        if self.ids is None:
            return
        uid, gid = self.ids
        st = os.fstat(dir_fd)
        mode = stat.S_IMODE(st.st_mode)
        if keep_owner:
            if st.st_gid != gid or mode & 0o070 != 0o070:
                os.fchown(dir_fd, -1, gid)
                os.fchmod(dir_fd, mode | 0o070)
        elif st.st_uid != uid or st.st_gid != gid:
            os.fchown(dir_fd, uid, gid)

    def _prepare(
        self, workspace: Path, env: Mapping[str, str] | None, writable: Sequence[Path] | None
    ) -> tuple[Path, list[Path], list[Path], dict[str, str]]:
        ws = check_workspace(workspace, self.protected)
        (ws / PRIVATE_DIR).mkdir(exist_ok=True)
        dirs = check_writable(ws, writable)  # creates them: before _grant hands them over
        git = self._grant(ws)
        return ws, dirs, git, base_env(ws, HOME, TMP, env)

    def run(
        self,
        cmd: Sequence[str],
        workspace: Path,
        limits: Limits | None = None,
        *,
        network: bool = False,
        env: Mapping[str, str] | None = None,
        writable: Sequence[Path] | None = None,
        on_output: OutputCallback | None = None,
    ) -> Result:
        """Run ``cmd`` in the sandbox and wait for it (see ``Sandbox.run``)."""
        limits = limits or Limits()
        ws, dirs, git, full_env = self._prepare(workspace, env, writable)
        pidns = PidNamespace()
        argv = self._argv(cmd, ws, limits, network=network, writable=dirs, git=git, pidns=pidns)
        finished = _process.run(
            argv,
            pidns=pidns,
            cwd=ws,
            env=full_env,
            wall_s=limits.wall_s,
            output_bytes=limits.output_bytes,
            on_output=on_output,
        )
        return to_result(finished, limits, signal_from_128=True)

    def start(
        self,
        cmd: Sequence[str],
        workspace: Path,
        limits: Limits | None = None,
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
    ) -> Process:
        """Start a long-running ``cmd`` with no network; ``{socket}`` becomes
        ``<ws>/.vitco/app.sock`` and ``Process.url`` is a 127.0.0.1 bridge to it. ``stop``
        kills the pid namespace. ``wall_s`` does not apply;
        ``cpu_s`` does, per process: give a long-running app a large one."""
        limits = limits or Limits()
        ws, _, git, full_env = self._prepare(workspace, env, None)
        sock = fresh_socket(ws)
        pidns = PidNamespace()
        inside = sock if fits(sock) else SHORT_SOCKET_DIR / sock.name
        argv = self._argv(
            substitute_socket(cmd, inside),
            ws,
            limits,
            network=False,
            writable=[ws],
            git=git,
            pidns=pidns,
            alias=None if inside == sock else sock.parent,
        )
        return _process.launch(argv, ws, full_env, sock, log_path, pidns)
