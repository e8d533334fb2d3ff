"""The sandbox protocol: how vitco runs code a model wrote.

Every command on a delivered project (install, tests, build, the deployed process) goes through
a ``Sandbox``. ``run`` waits for a command and returns a ``Result``; ``start`` launches a
long-running process (a deployed app) and returns a ``Process`` handle.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from vitco.sandbox.workspace import connect_unix

LimitName = Literal["cpu", "memory", "processes", "open_files", "file_size", "wall", "output"]

OutputCallback = Callable[[str, bytes], None]
"""Receives ``("stdout" | "stderr", chunk)`` as a sandboxed command writes (for streaming)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandboxed command. Sizes in MiB, times in seconds.

    ``cpu_s``, ``memory_mb`` (address space), ``open_files`` and ``file_size_mb`` apply per
    process; ``processes`` counts the processes of the sandbox's uid; ``wall_s`` bounds a
    ``run`` (not a started app); ``output_bytes`` caps the stdout+stderr a ``run`` captures.
    ``vitco.sandbox.limits`` says how a hit is detected (``Result.limit_hit``).
    """

    cpu_s: int = 120
    memory_mb: int = 2048
    processes: int = 256
    open_files: int = 1024
    file_size_mb: int = 256
    wall_s: float = 300.0
    output_bytes: int = 2_000_000

    def with_overrides(self, **values: float) -> Limits:
        """A copy with some fields replaced (used by ``--limit NAME=VALUE``)."""
        current = {f: getattr(self, f) for f in self.__dataclass_fields__}
        for name, value in values.items():
            if name not in current:
                raise ValueError(f"unknown limit {name!r}; known: {', '.join(sorted(current))}")
            current[name] = type(current[name])(value)
        return Limits(**current)


@dataclass(frozen=True)
class Result:
    """What a finished sandboxed command did."""

    exit_code: int | None
    stdout: str
    stderr: str
    duration_s: float
    limit_hit: LimitName | None = None
    signal: int | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.limit_hit is None


@dataclass
class Process:
    """A long-running sandboxed process (a deployed app).

    ``socket_path`` is the unix socket inside the workspace the app listens on when it runs
    without a network; ``url`` is where the host reaches it (e.g. a 127.0.0.1 bridge).
    """

    pid: int
    url: str | None = None
    socket_path: Path | None = None
    _stop: object | None = field(default=None, repr=False)
    log_path: Path | None = None
    _poll: Callable[[], int | None] | None = field(default=None, repr=False)

    def stop(self) -> None:
        """Stop the process and everything it started; idempotent."""
        if callable(self._stop):
            self._stop()

    def poll(self) -> int | None:
        """The exit status once the process has ended (``128 + n`` if killed by signal n),
        else ``None``."""
        return self._poll() if self._poll is not None else None

    def wait_ready(self, timeout_s: float = 30.0) -> bool:
        """Wait until the app accepts connections on ``socket_path``; ``False`` if it did not
        within ``timeout_s`` or exited first."""
        if self.socket_path is None:
            return False
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.poll() is not None:
                return False
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    connect_unix(probe, self.socket_path)
                except OSError:
                    time.sleep(0.02)
                    continue
                return True
        return False

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Sandbox(Protocol):
    """Runs untrusted commands confined to one workspace."""

    name: str

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
        """Run ``cmd`` with ``workspace`` as the working directory and wait for it.

        ``writable``: paths inside the workspace that stay writable (default: the whole
        workspace), e.g. only ``.venv`` for the networked dependency install.
        ``on_output`` receives output as it arrives, within the captured-output limit.
        """
        ...

    def start(
        self,
        cmd: Sequence[str],
        workspace: Path,
        limits: Limits | None = None,
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
    ) -> Process:
        """Start a long-running ``cmd``; ``{socket}`` in ``cmd`` is replaced by the path of the
        unix socket the app must listen on, and the returned ``Process.url`` reaches it."""
        ...
