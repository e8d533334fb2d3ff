"""Host side of a sandboxed command: spawn it, capture output, enforce wall and output limits.

Shared by ``bwrap`` and ``unsafe``: both hand over a full argv (wrapper + command). The child is
the leader of a new session, so killing its process group kills it and whatever it started in
that group; ``bwrap`` additionally kills everything in its pid namespace when it dies.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import ctypes
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from vitco.sandbox._pidns import PidNamespace
from vitco.sandbox.bridge import Bridge
from vitco.sandbox.fs import DiskWatch
from vitco.sandbox.listener import AppSocket
from vitco.sandbox.protocol import OutputCallback, Process

_POLL_S = 0.05
_DRAIN_S = 0.5

_live: set[subprocess.Popen[bytes]] = set()
_owner: dict[subprocess.Popen[bytes], Group] = {}
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vitco-sandbox-spawner")
_live_lock = threading.Lock()


class Group:
    """The sandboxed processes started within one scope (one run), so that stopping the run
    kills its commands and apps and no other run's. A process started after ``kill`` (a step
    that spawned while the stop was being requested) is killed as soon as it is registered."""

    def __init__(self) -> None:
        self._procs: set[subprocess.Popen[bytes]] = set()
        self.killed = False

    def kill(self) -> None:
        """Kill every live process of the group, and any started into it from now on."""
        with _live_lock:  # held while killing: a reaped pid is not killed after reuse
            self.killed = True
            for proc in self._procs:
                if proc.returncode is None:
                    _kill_group(proc)

    def __len__(self) -> int:
        with _live_lock:
            return sum(1 for p in self._procs if p.returncode is None)


_group: contextvars.ContextVar[Group | None] = contextvars.ContextVar(
    "vitco_sandbox_group", default=None
)


@contextlib.contextmanager
def grouped(group: Group) -> Iterator[Group]:
    """Processes spawned in this context (and in threads that copy it, as LangGraph's step
    pool does) belong to ``group``."""
    token = _group.set(group)
    try:
        yield group
    finally:
        _group.reset(token)


def _register(proc: subprocess.Popen[bytes]) -> None:
    group = _group.get()
    with _live_lock:
        _live.add(proc)
        if group is not None:
            group._procs.add(proc)
            _owner[proc] = group
        doomed = group is not None and group.killed
    if doomed:
        _kill_group(proc)


def _forget(proc: subprocess.Popen[bytes]) -> None:
    with _live_lock:
        _live.discard(proc)
        group = _owner.pop(proc, None)
        if group is not None:
            group._procs.discard(proc)


@dataclass(frozen=True)
class Finished:
    """Raw observations of one finished command."""

    returncode: int
    stdout: bytes
    stderr: bytes
    duration_s: float
    cpu_s: float
    wall_hit: bool
    output_hit: bool
    disk_hit: bool = False


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # The child is a session leader (start_new_session), so its pid is its group id; it is
    # only ever called while the child is unreaped, so the id cannot have been reused.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """True once the child is a zombie; WNOWAIT leaves it unreaped so its pid stays ours."""
    info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    return info is not None and info.si_pid == proc.pid


def _reap(proc: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Kill the rest of the group, reap the child; returns (returncode, cpu seconds used by it
    and its reaped descendants)."""
    _kill_group(proc)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    _forget(proc)
    return proc.returncode, usage.ru_utime + usage.ru_stime


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with(parent: int) -> Callable[[], None]:
    """A pre-exec hook: the child gets SIGKILL when vitco dies, even if that happens before
    bwrap has set up its own ``--die-with-parent`` (a kill right after start raced it)."""

    def hook() -> None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # vitco died between fork and prctl
            os._exit(1)

    return hook


def _kill_unclaimed(future: Future[subprocess.Popen[bytes]]) -> None:
    """Kill and reap a child whose spawner's caller was interrupted before it got it."""
    if future.cancelled() or future.exception() is not None:
        return
    proc = future.result()
    _kill_group(proc)
    proc.wait()


def spawn(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdout: int | None,
    stderr: int | None,
    pidns: PidNamespace | None = None,
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session with no stdin; remembered so it dies with vitco.
    ``pass_fds`` stay open in the child (mount sources, a listening socket).

    The fork happens on one long-lived spawner thread: bwrap's ``--die-with-parent`` is a
    parent-death signal, which Linux ties to the *thread* that forked. A sandbox forked from a
    short-lived worker thread (LangGraph runs steps on a pool) survived ``kill -9`` of vitco
    (measured); one forked from a thread that lives as long as the process dies with it.
    """
    future = _SPAWNER.submit(
        subprocess.Popen,
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        close_fds=True,
        pass_fds=(*pass_fds, *((pidns.write_fd,) if pidns else ())),
        preexec_fn=_die_with(os.getpid()),
    )
    try:
        proc = future.result()
    except BaseException:
        # Ctrl-C (or any stop) while the spawner forks: the child may still start after this
        # thread gave up on it, and nobody would know to kill it. Whoever finishes last kills it.
        future.add_done_callback(_kill_unclaimed)
        if pidns is not None:
            pidns.abandon()
        raise
    _register(proc)
    if pidns is not None:
        pidns.started(proc.pid)
    return proc


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    wall_s: float,
    output_bytes: int,
    on_output: OutputCallback | None = None,
    pidns: PidNamespace | None = None,
    pass_fds: Sequence[int] = (),
    disk: DiskWatch | None = None,
) -> Finished:
    """Run ``argv`` to completion, capturing at most ``output_bytes`` of stdout+stderr and
    killing it when the output cap, ``wall_s`` or the ``disk`` limit is reached (disk use is
    measured while it runs and once more after it)."""
    started = time.monotonic()
    deadline = started + wall_s
    proc = spawn(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pidns=pidns,
        pass_fds=pass_fds,
    )
    assert proc.stdout is not None and proc.stderr is not None
    chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
    captured = 0
    wall_hit = output_hit = disk_hit = False
    exited_at: float | None = None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
    sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
    try:
        while sel.get_map():
            now = time.monotonic()
            if now >= deadline:
                wall_hit = True
                break
            if disk is not None and disk.exceeded(now=now):
                disk_hit = True
                break
            if exited_at is None and _exited(proc):
                exited_at = now
            # A background process that escaped the group may hold the pipes open after the
            # command exited (only possible without a pid namespace): stop waiting for it.
            if exited_at is not None and now - exited_at > _DRAIN_S:
                break
            for key, _ in sel.select(timeout=min(_POLL_S, deadline - now)):
                name = str(key.data)
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                room = output_bytes - captured
                if len(data) > room:
                    data = data[:room]
                    output_hit = True
                captured += len(data)
                if data:
                    chunks[name].append(data)
                    if on_output is not None:
                        on_output(name, data)
            if output_hit:
                break
        if wall_hit or output_hit or disk_hit:
            _kill_group(proc)
        returncode, cpu_s = _reap(proc)
        if pidns is not None:
            pidns.wait_gone()
        if disk is not None and not disk_hit:
            disk_hit = disk.exceeded(force=True)
    finally:
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
        if proc.returncode is None:
            _kill_group(proc)
            proc.wait()
            _forget(proc)
    return Finished(
        returncode=returncode,
        stdout=b"".join(chunks["stdout"]),
        stderr=b"".join(chunks["stderr"]),
        duration_s=time.monotonic() - started,
        cpu_s=cpu_s,
        wall_hit=wall_hit,
        output_hit=output_hit,
        disk_hit=disk_hit,
    )


def stopper(
    proc: subprocess.Popen[bytes], pidns: PidNamespace | None = None
) -> tuple[Callable[[], None], Callable[[], int | None]]:
    """``(stop, poll)`` callables for a started long-running process; ``stop`` is idempotent
    and kills the whole process group."""
    lock = threading.Lock()

    def stop() -> None:
        with lock:
            if proc.returncode is None:
                _kill_group(proc)
                _reap(proc)
            if pidns is not None:
                pidns.wait_gone()

    def poll() -> int | None:
        with lock:
            if proc.returncode is None and _exited(proc):
                _reap(proc)
                if pidns is not None:
                    pidns.wait_gone()
            rc = proc.returncode
            return 128 - rc if rc is not None and rc < 0 else rc

    return stop, poll


def launch(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    app: AppSocket,
    *,
    pidns: PidNamespace | None = None,
    pass_fds: Sequence[int] = (),
    disk: DiskWatch | None = None,
    on_stop: Callable[[], None] | None = None,
) -> Process:
    """Spawn a long-running ``argv`` that serves on ``app``'s listening socket (passed in
    with ``pass_fds``) with its output appended to ``app``'s log, and a bridge to it.

    The ``Process`` stops the app, the bridge and the disk watch, then calls ``on_stop``
    (which removes the app's scratch directory). A watch that finds the disk limit exceeded
    stops the app and sets ``Process.limit_hit``.
    """
    assert app.log_fd is not None
    try:
        proc = spawn(
            argv,
            cwd=cwd,
            env=env,
            stdout=app.log_fd,
            stderr=app.log_fd,
            pidns=pidns,
            pass_fds=(*pass_fds, app.fd),
        )
    except BaseException:
        app.close()
        raise
    app.handed_over()
    bridge = Bridge(app.dial)
    kill, poll = stopper(proc, pidns)
    stopped = threading.Event()
    process = Process(
        pid=proc.pid, url=bridge.url, log_path=app.log_path, _poll=poll, _dial=app.dial
    )

    def stop() -> None:
        stopped.set()
        bridge.close()
        kill()
        app.close()
        if on_stop is not None:
            on_stop()

    def watch() -> None:
        assert disk is not None
        while not stopped.wait(timeout=1.0):
            if disk.exceeded():
                process.limit_hit = "disk"
                kill()
                return

    process._stop = stop
    if disk is not None:
        threading.Thread(target=watch, name=f"vitco-disk-{proc.pid}", daemon=True).start()
    return process


@atexit.register
def stop_all() -> None:
    """Kill every sandbox this process started (at exit, and when it is told to stop: bwrap
    also has --die-with-parent)."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        if proc.returncode is None:
            _kill_group(proc)
