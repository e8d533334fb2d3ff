"""The real sandbox: bubblewrap namespaces + rlimits, no daemon, ~10 ms to start.

What a command sees (built from nothing, never ``--ro-bind / /``, which would expose vitco's
data dir, other projects and the host's home):

- ``/usr``, ``/bin``, ``/sbin``, ``/lib*``, ``/opt`` and ``/etc`` read-only, with the secrets in
  ``/etc`` (shadow, sudoers, ssh host keys, private TLS keys) masked;
- the Python that runs vitco read-only: ``sys.base_prefix`` and ``sys.prefix`` only;
- its workspace read-write at the same absolute path (venv shebangs are absolute), except
  every ``.git`` in it (the repo's, and the gitfiles of worktrees), which are read-only: a
  hook, ``core.fsmonitor`` or ``gitdir:`` written there would otherwise run outside the
  sandbox the next time vitco runs git. So a workspace must be a git repo before sandboxed
  code first runs in it, or that code could plant a ``.git`` of its own. ``within`` narrows
  what is visible to one subdirectory (the dependency install sees only the venv);
- ``readonly`` directories vitco owns (its wheel cache), read-only at their own path;
- for a started app, its data directory (``data``: a directory vitco made outside every
  workspace) read-write at ``/data``, named by ``DATA_DIR``; handed to the project's uid like
  the workspace, by descriptor, never following a link in it;
- a private ``/tmp`` (HOME is ``/tmp/home``): a fresh directory vitco creates for the command
  and removes after it, on disk and counted against the disk limit (a tmpfs would let a test
  fill the host's memory); ``/proc`` of its own pid namespace, a minimal ``/dev``;
- no network at all: its own network namespace holds only a loopback of its own. Nothing
  vitco runs in the sandbox needs one (dependencies come from a wheel cache the host fills);
  a deployed app gets its listening socket from vitco as a descriptor (``{fd}``);
- its own pid namespace: when the command exits, or vitco kills the sandbox, every process in
  it dies, including ones that called ``setsid``.

The host never mounts, opens or follows a path sandboxed code could have changed. Every mount
source inside a workspace is opened by the host first, component by component with
``O_NOFOLLOW`` (``fs.open_dir``), and handed to bwrap as a descriptor (``--bind-fd``): a link
planted between two commands cannot make bwrap mount a host directory. A workspace must not lie
inside a directory the sandbox's ids can write (a worktree inside another workspace could be
swapped for a link by that workspace's code), and never contains vitco's data dir.

The uid question. As uid 0 the kernel ignores RLIMIT_NPROC, so when vitco runs as root the
command must run as an unprivileged uid. Each project runs as its own: uid ``FIRST + slot``
from the subordinate range reserved for the ``vitco-sandbox`` user in ``/etc/subuid`` and
``/etc/subgid`` (``identity.py``; ``scripts/install-system.sh`` reserves it), so one project's
code can never write another's files, even through a mistake in a mount, and projects do not
share a process budget. Commands that belong to no project (``vitco sandbox run``, ``vitco
doctor``) run as the range's last id, which no project gets. Nothing runs as ``vitco-sandbox``
itself (it owns the range). Measured options for the switch:

- ``bwrap --unshare-user --uid N`` as root maps the sandbox uid onto the caller's, i.e. still
  kuid 0 outside: the process limit stays ignored. Rejected.
- ``setpriv`` to the uid *before* bwrap: bwrap then cannot even reach the bind sources
  (``/root`` is 0700 and holds the Python and the data dir). Rejected.
- Chosen: bwrap runs as root *without* a user namespace, so it can set up every mount, keeps
  only CAP_SETUID/SETGID/SETPCAP, and execs ``setpriv --reuid --regid --clear-groups
  --bounding-set=-all --inh-caps=-all`` inside; the command then runs as the project's kuid
  with no capabilities and NO_NEW_PRIVS. The mount points bwrap creates (e.g. ``/root``) are
  0755 dirs on its own tmpfs, so the uid can reach its binds without seeing the host's dirs.
  For the workspace to be writable, before each command vitco hands its contents to the uid,
  walking from a descriptor with ``os.fwalk`` and never following symlinks (~12 ms for 1,700
  files, a small venv; a no-op for files already handed over). Every ``.git``, and the
  directory holding it (the workspace, a worktree), stays root's; those directories only get
  the uid's group with g+rwx. So git, run by root, does not reject a repo for "dubious
  ownership", and root reads and writes the files the sandbox created (it has the
  capability; it needs not own them). Measured alternatives: ACLs need ``setfacl`` and an
  ACL-capable filesystem and work no better; chown-and-back after each command breaks while a
  deployed app runs.
- A pids cgroup would also do, but needs a writable cgroup tree (not here: /sys/fs/cgroup is
  read-only in this VM) and a systemd or cgroup manager on other hosts.

When vitco itself runs unprivileged, no uid switch is possible or needed: bwrap creates a user
namespace (the command keeps vitco's uid outside, RLIMIT_NPROC applies to non-root anyway).
Projects then share vitco's uid; only the mounts keep them apart.
"""

from __future__ import annotations

import contextlib
import copy
import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vitco.sandbox import _process
from vitco.sandbox._pidns import PidNamespace
from vitco.sandbox.env import base_env, python_dirs, substitute
from vitco.sandbox.exceptions import (
    BadWorkspace,
    BwrapMissing,
    SandboxUnavailable,
    SandboxUserMissing,
    ToolMissing,
    UserNamespacesDisabled,
)
from vitco.sandbox.fs import (
    DiskWatch,
    Scratch,
    check_workspace,
    default_state_root,
    open_child_dir,
    open_dir,
)
from vitco.sandbox.identity import project_ids, subordinate_range
from vitco.sandbox.limits import MIB, prlimit_argv, to_result
from vitco.sandbox.listener import AppSocket
from vitco.sandbox.protocol import DATA_MOUNT, Limits, OutputCallback, Process, Result

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
    "/etc/subuid",
    "/etc/subgid",
    "/etc/vitco",
)
# Never searched for a .git when nothing needs chowning (big, and never a repo of vitco's).
_NO_REPOS = frozenset({".venv", "node_modules", "__pycache__"})
HOME = Path("/tmp/home")
TMP = Path("/tmp")
_PATH_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


def _which(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolMissing(tool)
    return path


@dataclass
class Box:
    """What one command is confined to: descriptors the host opened itself, without following
    links, and the command's private scratch directory. ``close`` releases them."""

    path: Path
    fd: int
    git: list[tuple[int, Path]] = field(default_factory=list)
    readonly: list[tuple[int, Path]] = field(default_factory=list)
    data: int | None = None
    scratch: Scratch | None = None
    closed: bool = False

    def _own_fds(self) -> list[int]:
        fds = [self.fd, *(fd for fd, _ in self.git), *(fd for fd, _ in self.readonly)]
        return fds + ([self.data] if self.data is not None else [])

    def fds(self) -> list[int]:
        return self._own_fds() + ([self.scratch.fd] if self.scratch else [])

    def disk(self, limits: Limits) -> DiskWatch:
        trees = [self.fd] + ([self.scratch.fd] if self.scratch else [])
        trees += [self.data] if self.data is not None else []
        return DiskWatch(trees, limits.disk_mb * MIB)

    def close(self) -> None:
        """Close the descriptors and remove the scratch directory; idempotent."""
        if self.closed:
            return
        self.closed = True
        for fd in self._own_fds():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.git.clear()
        self.readonly.clear()
        if self.scratch is not None:
            self.scratch.remove()


class BwrapSandbox:
    """Runs commands in bubblewrap (see the module docstring for what they can see and do).

    ``user`` owns the range of uids commands run as when vitco runs as root; ``protected``
    are paths (vitco's data dir) a workspace must never contain; ``state_root`` is a directory
    vitco owns for scratch dirs and app sockets (default: a new temporary one). Construction
    checks that bwrap works here and raises a ``SandboxUnavailable`` naming the fix if not.
    """

    name = "bwrap"

    def __init__(
        self,
        *,
        user: str = "vitco-sandbox",
        protected: Sequence[Path] = (),
        state_root: Path | None = None,
    ) -> None:
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise BwrapMissing()
        self.bwrap = bwrap
        self.prlimit = _which("prlimit")
        self.protected = list(protected)
        self.state_root = state_root or default_state_root()
        self.ids: tuple[int, int] | None = None
        self._range: tuple[int, int, int] | None = None
        self._owner: tuple[int, int] | None = None
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
            self._owner = (entry.pw_uid, entry.pw_gid)
            self._range = subordinate_range(user)
            if self._range is None or self._range[2] < 2:
                raise SandboxUnavailable(
                    f"no range of subordinate uids and gids is reserved for {user!r} in "
                    "/etc/subuid and /etc/subgid (each project runs as its own uid)",
                    "run `sudo scripts/install-system.sh`",
                )
            first_uid, first_gid, count = self._range
            self.ids = (first_uid + count - 1, first_gid + count - 1)  # no project's
        self.user = user
        self._preflight()

    def for_project(self, slot: int) -> BwrapSandbox:
        """This sandbox, running commands as the uid of the project with ``slot``."""
        if self._range is None:
            return self  # unprivileged: commands keep vitco's uid (see the module docstring)
        first_uid, first_gid, count = self._range
        confined = copy.copy(self)
        confined.ids = project_ids(slot, first_uid, first_gid, count - 1)
        return confined

    def sandbox_wrote(self, st: os.stat_result) -> bool:
        """Whether sandboxed code could have written this file or directory: its owner, or
        its group with write permission, is one of the sandbox's ids."""
        if self._range is None or self._owner is None:
            return False
        first_uid, first_gid, count = self._range
        uid_hit = first_uid <= st.st_uid < first_uid + count or st.st_uid == self._owner[0]
        gid_hit = first_gid <= st.st_gid < first_gid + count or st.st_gid == self._owner[1]
        return uid_hit or (gid_hit and bool(st.st_mode & stat.S_IWGRP))

    def _foreign(self, uid: int) -> bool:
        """Whether ``uid`` is another project's: its files are never handed to this one."""
        if self._range is None or self.ids is None:
            return False
        first_uid, _first_gid, count = self._range
        return first_uid <= uid < first_uid + count - 1 and uid != self.ids[0]

    def _refuse_foreign(self, box: Box, st: os.stat_result, where: str) -> None:
        if self._foreign(st.st_uid):
            raise BadWorkspace(
                box.path,
                f"{where} belongs to another project's uid {st.st_uid}; one project's "
                "sandbox never takes over another's files",
            )

    def _preflight(self) -> None:
        """Start one empty sandbox so a broken setup fails here, with the reason."""
        with tempfile.TemporaryDirectory(prefix="vitco-preflight-") as tmp:
            box = self._confine(Path(tmp), None, ())
            try:
                argv = self._argv(["true"], box, Limits())
                finished = _process.run(
                    argv,
                    cwd=Path(tmp),
                    env=base_env(Path(tmp), HOME, TMP, None),
                    wall_s=30,
                    output_bytes=65536,
                    pass_fds=box.fds(),
                )
            finally:
                box.close()
        if finished.returncode != 0:
            raise UserNamespacesDisabled(finished.stderr.decode("utf-8", "replace"))

    def _namespaces(self) -> list[str]:
        # As root no user namespace: bwrap would map the sandbox uid to kuid 0 and the uid
        # switch to the sandbox user would have nothing to map to.
        ns = [] if self.ids else ["--unshare-user"]
        return [
            *ns,
            "--unshare-ipc",
            "--unshare-pid",
            "--unshare-uts",
            "--unshare-net",
            "--unshare-cgroup-try",
        ]

    def _argv(
        self,
        cmd: Sequence[str],
        box: Box,
        limits: Limits,
        *,
        pidns: PidNamespace | None = None,
    ) -> list[str]:
        argv = [self.bwrap, *self._namespaces(), "--die-with-parent", "--new-session"]
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
        if box.scratch is not None:
            argv += ["--bind-fd", str(box.scratch.fd), str(TMP)]
        else:
            argv += ["--perms", "1777", "--tmpfs", str(TMP)]
        # After /tmp: a workspace or a Python may live under it. bwrap creates missing parents
        # of a mount point 0700, which the sandbox uid could not traverse: create them 0755.
        made: set[Path] = {Path("/"), TMP}
        ro = [path for _, path in box.readonly]
        for target in (*python_dirs(), *ro, box.path):
            for parent in reversed(target.parents):
                if parent not in made:
                    made.add(parent)
                    argv += ["--perms", "0755", "--dir", str(parent)]
        for d in python_dirs():
            argv += ["--ro-bind", str(d), str(d)]
        for fd, path in box.readonly:
            argv += ["--ro-bind-fd", str(fd), str(path)]
        argv += ["--bind-fd", str(box.fd), str(box.path)]
        for fd, path in box.git:
            argv += ["--ro-bind-fd", str(fd), str(path)]
        if box.data is not None:
            argv += ["--bind-fd", str(box.data), DATA_MOUNT]
        argv += ["--chdir", str(box.path), "--"]
        if self.ids:
            uid, gid = self.ids
            argv += [self.setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
            argv += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
        return [*argv, *prlimit_argv(limits), *cmd]

    def _grant(self, box: Box) -> None:
        """Find every ``.git`` below the box (they are mounted read-only, by descriptor) and,
        as root, make the rest writable by the sandbox uid (see the module docstring).

        A directory holding a ``.git`` (the workspace, or a git worktree inside it) keeps its
        owner and only gets the sandbox group with g+rwx: git refuses a repository whose top
        directory another user owns. Without a uid switch nothing is chowned and the walk
        skips trees that never hold a repository of vitco's.
        """
        for root, dirs, files, root_fd in os.fwalk(".", dir_fd=box.fd, follow_symlinks=False):
            self._refuse_foreign(box, os.fstat(root_fd), root)
            if ".git" in dirs or ".git" in files:
                fd = os.open(".git", _PATH_FLAGS, dir_fd=root_fd)
                if stat.S_ISLNK(os.fstat(fd).st_mode):
                    os.close(fd)  # a link is never mounted (nor followed)
                else:
                    box.git.append((fd, Path(os.path.normpath(box.path / root / ".git"))))
                dirs[:] = [d for d in dirs if d != ".git"]  # pruned: stays root's
                files = [f for f in files if f != ".git"]
                self._own(root_fd, keep_owner=True)
            else:
                self._own(root_fd, keep_owner=root == ".")
            if self.ids is None:
                dirs[:] = [d for d in dirs if d not in _NO_REPOS]
                continue
            self._own_files(box, root, root_fd, files)

    def _grant_data(self, box: Box, data_fd: int) -> None:
        """Hand a data directory and everything in it to the sandbox uid (as ``_grant`` does
        a workspace, with no ``.git`` kept back: vitco never runs git there)."""
        if self.ids is None:
            return
        for root, _dirs, files, root_fd in os.fwalk(".", dir_fd=data_fd, follow_symlinks=False):
            self._refuse_foreign(box, os.fstat(root_fd), f"data dir: {root}")
            self._own(root_fd, keep_owner=False)
            self._own_files(box, root, root_fd, files)

    def _own_files(self, box: Box, root: str, root_fd: int, files: list[str]) -> None:
        """As root: give the files ``files`` of the directory ``root_fd`` to the sandbox uid."""
        if self.ids is None:
            return
        uid, gid = self.ids
        # fwalk opened this directory relative to its parent's fd without following
        # symlinks, so a symlink swapped in by a running sandbox cannot redirect a chown.
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                st = os.stat(name, dir_fd=root_fd, follow_symlinks=False)
                self._refuse_foreign(box, st, os.path.join(root, name))
                if st.st_uid != uid or st.st_gid != gid:
                    os.chown(name, uid, gid, dir_fd=root_fd, follow_symlinks=False)

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

    def _confine(
        self,
        workspace: Path,
        within: str | None,
        readonly: Sequence[Path],
        data: Path | None = None,
    ) -> Box:
        """Check the workspace, open what will be mounted (never through a link), hand the
        files to the uid and make the command's scratch directory."""
        ws = check_workspace(workspace, self.protected, self.sandbox_wrote)
        fd = open_dir(ws)
        path = ws
        if within is not None:
            plain = within not in ("", ".", "..") and "/" not in within
            inner = open_child_dir(fd, within) if plain else None
            os.close(fd)
            if inner is None:
                raise BadWorkspace(ws, f"{within!r} is not a plain directory in it")
            fd, path = inner, ws / within
        box = Box(path=path, fd=fd)
        try:
            for d in readonly:
                real = check_workspace(d, self.protected, self.sandbox_wrote)
                if real == ws or ws in real.parents or real in ws.parents:
                    raise BadWorkspace(real, "a read-only directory must lie outside the workspace")
                box.readonly.append((open_dir(real), real))
            if data is not None:
                box.data = self._open_data(box, data)
            self._grant(box)
            if box.data is not None:
                self._grant_data(box, box.data)
            box.scratch = Scratch(self.state_root / "tmp", self.ids)
        except BaseException:
            box.close()
            raise
        return box

    def _open_data(self, box: Box, data: Path) -> int:
        """The data directory's descriptor, once it is known to lie apart from every other
        mount (``/data`` must hide none of them, nor lie inside one)."""
        real = check_workspace(data, self.protected, self.sandbox_wrote)
        mount = Path(DATA_MOUNT)
        for other in (box.path, *(p for _, p in box.readonly), *python_dirs()):
            if other == mount or mount in other.parents:
                raise BadWorkspace(other, f"lies under {DATA_MOUNT}, where apps see their data")
        if real == box.path or box.path in real.parents or real in box.path.parents:
            raise BadWorkspace(real, "a data directory must lie outside the workspace")
        return open_dir(real)

    def run(
        self,
        cmd: Sequence[str],
        workspace: Path,
        limits: Limits | None = None,
        *,
        env: Mapping[str, str] | None = None,
        readonly: Sequence[Path] = (),
        collect: Sequence[str] = (),
        on_output: OutputCallback | None = None,
        within: str | None = None,
    ) -> Result:
        """Run ``cmd`` in the sandbox and wait for it (see ``Sandbox.run``); ``within`` runs
        it in that subdirectory of the workspace, the only part it then sees."""
        limits = limits or Limits()
        box = self._confine(workspace, within, readonly)
        try:
            pidns = PidNamespace()
            argv = self._argv(substitute(cmd, tmp=str(TMP)), box, limits, pidns=pidns)
            finished = _process.run(
                argv,
                pidns=pidns,
                cwd=box.path,
                env=base_env(box.path, HOME, TMP, env),
                wall_s=limits.wall_s,
                output_bytes=limits.output_bytes,
                on_output=on_output,
                pass_fds=box.fds(),
                disk=box.disk(limits),
            )
            assert box.scratch is not None
            files = box.scratch.collect(collect)
        finally:
            box.close()
        return to_result(finished, limits, signal_from_128=True, files=files)

    def start(
        self,
        cmd: Sequence[str],
        workspace: Path,
        limits: Limits | None = None,
        *,
        env: Mapping[str, str] | None = None,
        readonly: Sequence[Path] = (),
        data: Path | None = None,
    ) -> Process:
        """Start a long-running ``cmd`` with no network, serving on the listening socket
        vitco hands in as ``{fd}``; ``Process.url`` is a 127.0.0.1 bridge to it. ``stop``
        kills the pid namespace. ``wall_s`` does not apply; ``cpu_s`` does, per process: give
        a long-running app a large one. ``data`` is mounted at ``/data`` (``DATA_DIR``)."""
        limits = limits or Limits()
        box = self._confine(workspace, None, readonly, data)
        try:
            app = AppSocket(self.state_root / "apps")
        except BaseException:
            box.close()
            raise
        pidns = PidNamespace()
        argv = self._argv(substitute(cmd, fd=str(app.fd), tmp=str(TMP)), box, limits, pidns=pidns)
        return _process.launch(
            argv,
            box.path,
            base_env(box.path, HOME, TMP, env, DATA_MOUNT if data is not None else None),
            app,
            pidns=pidns,
            pass_fds=box.fds(),
            disk=box.disk(limits),
            on_stop=box.close,
        )
