"""One deployment kept up: its stable port, its app process, and the thread that watches it.

The stable URL is a ``sandbox.bridge.Bridge`` on the deployment's own port that dials the
*current* app's socket (``Process.dial``), so the URL answers whichever process serves now and
the port stays vitco's while the app restarts (nothing else can take it meanwhile). The bridge
never resolves a path the sandbox can write: it dials through the descriptor of the app's
socket directory, which vitco owns (``sandbox.listener``).

The thread polls the app; one that exited is started again after a backoff (``backoff_s``:
doubling from ``base`` to ``cap``, back to ``base`` once an app stayed up ``STABLE_S``). Each
loop also reads the deployment's row, so a stop requested by another process (``vitco
deployments stop``) is seen within a poll.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from vitco.sandbox.bridge import Bridge
from vitco.sandbox.protocol import Process
from vitco.store.deployments import DeploymentStore
from vitco.store.models import Deployment, utcnow

logger = logging.getLogger("vitco.deployments")

STABLE_S = 60.0
LOG_TAIL = 1_000


def backoff_s(crashes: int, base: float, cap: float) -> float:
    """How long to wait before start number ``crashes`` (1: the first after a crash)."""
    return min(cap, base * 2.0 ** max(0, crashes - 1))


@dataclass(frozen=True)
class Timing:
    """How often the keeper looks, and how it backs off (seconds)."""

    poll_s: float = 0.5
    base_s: float = 1.0
    cap_s: float = 60.0


Launch = Callable[[Deployment], Process]
"""Starts a deployment's app from its row (built, healthy, checked) or raises."""


class Keeper:
    """Keeps one deployment up (see the module docstring); ``start`` runs its thread."""

    def __init__(
        self, deployment_id: str, rows: DeploymentStore, launch: Launch, timing: Timing
    ) -> None:
        self.id = deployment_id
        self.rows = rows
        self.launch = launch
        self.timing = timing
        self.front: Bridge | None = None
        self.port: int | None = None
        self._lock = threading.Lock()
        self._process: Process | None = None
        self._started_at = 0.0
        self._crashes = 0
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._stop_requested = False
        self._thread = threading.Thread(
            target=self._loop, name=f"vitco-keeper-{self.id}", daemon=True
        )

    # called from other threads --------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def bind(self, port: int) -> None:
        """Serve the stable URL on ``port`` (``OSError`` if it is taken)."""
        self.port = port
        self.front = Bridge(self.dial, port=port)

    def dial(self, sock: socket.socket) -> None:
        """Connect ``sock`` to the app serving now (refused while none does)."""
        process = self._process
        if process is None:
            raise ConnectionRefusedError(f"deployment {self.id} has no app running")
        process.dial(sock)

    def hand(self, process: Process) -> None:
        """A newly deployed app replaces the one running (stopped once the URL serves the
        new one)."""
        with self._lock:
            old, self._process = self._process, process
            self._started_at, self._crashes = time.monotonic(), 0
        self._record_started(process)
        if old is not None and old is not process:
            old.stop()
        self._wake.set()

    def close(self, *, stopped: bool = False, timeout: float = 30.0) -> None:
        """Stop the app and the URL (``stopped``: on request, else serve is going away and
        the deployment stays wanted) and wait for the thread."""
        self._stop_requested = self._stop_requested or stopped
        self._closing.set()
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self._shut()

    # the thread -----------------------------------------------------------------------------

    def _loop(self) -> None:
        try:
            while not self._closing.is_set():
                try:
                    self._step()
                except Exception as exc:  # the keeper never dies of one bad turn
                    logger.exception("deployment %s: %s", self.id, exc)
                    self._note(f"{type(exc).__name__}: {exc}", status="restarting")
                    self._pause(
                        backoff_s(self._crashes or 1, self.timing.base_s, self.timing.cap_s)
                    )
        finally:
            self._shut()

    def _step(self) -> None:
        row = self.rows.get(self.id)
        if row.stopped_at is not None:  # asked to stop, maybe by another process
            self._stop_requested = True
            self._closing.set()
            return
        if self.front is None and not self._bind():
            self._pause(backoff_s(max(1, self._crashes), self.timing.base_s, self.timing.cap_s))
            return
        process = self._process
        if process is None:
            self._start()
            return
        code = process.poll()
        if code is None:
            self._pause(self.timing.poll_s)
            return
        self._crashed(process, code)

    def _bind(self) -> bool:
        assert self.port is not None
        try:
            self.bind(self.port)
        except OSError as exc:
            self._crashes += 1
            self._note(f"port {self.port} is in use by another program: {exc}", status="restarting")
            return False
        return True

    def _start(self) -> None:
        self.rows.update(self.id, status="starting" if self._crashes == 0 else "restarting")
        row = self.rows.get(self.id)
        try:
            process = self.launch(row)
        except Exception as exc:
            self._crashes += 1
            self._note(f"could not start the app: {exc}", status="restarting")
            self._pause(backoff_s(self._crashes, self.timing.base_s, self.timing.cap_s))
            return
        with self._lock:
            taken = self._process is None and not self._closing.is_set()
            if taken:
                self._process, self._started_at = process, time.monotonic()
        if not taken:  # a new deploy (or a stop) came first
            process.stop()
            return
        self._record_started(process)

    def _crashed(self, process: Process, code: int) -> None:
        with self._lock:
            if self._process is not process:
                return
            self._process = None
            if time.monotonic() - self._started_at >= STABLE_S:
                self._crashes = 0
            self._crashes += 1
        tail = process.log_tail(LOG_TAIL).strip()
        process.stop()
        row = self.rows.get(self.id)
        error = f"the app exited with status {code}" + (
            f"; its log ends with: {tail}" if tail else ""
        )
        self.rows.update(self.id, restarts=row.restarts + 1, pid=None)
        self._note(error, status="restarting")
        logger.warning("deployment %s: %s; starting it again", self.id, error)
        self._pause(backoff_s(self._crashes, self.timing.base_s, self.timing.cap_s))

    def _record_started(self, process: Process) -> None:
        self.rows.update(
            self.id,
            status="running",
            pid=process.pid,
            log_path=str(process.log_path) if process.log_path else None,
            started_at=utcnow(),
        )

    def _note(self, error: str, *, status: str) -> None:
        with contextlib.suppress(Exception):  # the store is away: the log has it
            self.rows.update(self.id, status=status, last_error=error[-4000:])

    def _pause(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _shut(self) -> None:
        with self._lock:
            process, self._process = self._process, None
            front, self.front = self.front, None
        if front is not None:
            front.close()
        if process is not None:
            process.stop()
        if self._stop_requested:
            with contextlib.suppress(Exception):
                self.rows.request_stop(self.id)
                self.rows.update(self.id, pid=None)
