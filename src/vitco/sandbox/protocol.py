"""The sandbox protocol: how vitco runs code a model wrote.

Every command on a delivered project (install, tests, build, the deployed process) goes through
a ``Sandbox``. ``run`` waits for a command and returns a ``Result``; ``start`` launches a
long-running process (a deployed app) and returns a ``Process`` handle; ``for_project`` gives
the sandbox that runs one project's code as that project's own uid.

Two placeholders in a command are filled in by the sandbox: ``{tmp}``, the command's private
scratch directory (its ``/tmp``, where it leaves files for ``collect``), and, for ``start``,
``{fd}``, the number of the listening socket vitco created and handed in.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

LimitName = Literal[
    "cpu", "memory", "processes", "open_files", "file_size", "wall", "output", "disk"
]

OutputCallback = Callable[[str, bytes], None]
"""Receives ``("stdout" | "stderr", chunk)`` as a sandboxed command writes (for streaming)."""

FD_PLACEHOLDER = "{fd}"
TMP_PLACEHOLDER = "{tmp}"
DATA_MOUNT = "/data"
"""Where a started app sees its data directory (``start(data=...)``) in the bwrap sandbox."""
DATA_ENV = "DATA_DIR"
"""The variable that names the app's data directory to it, wherever the sandbox shows it."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandboxed command. Sizes in MiB, times in seconds.

    ``cpu_s``, ``memory_mb`` (address space), ``open_files`` and ``file_size_mb`` apply per
    process; ``processes`` counts the processes of the sandbox's uid (one uid per project);
    ``wall_s`` bounds a ``run`` (not a started app); ``output_bytes`` caps the stdout+stderr a
    ``run`` captures; ``disk_mb`` caps what the workspace and the private ``/tmp`` hold, checked
    by the host while the command runs and after it. ``vitco.sandbox.limits`` says how a hit is
    detected (``Result.limit_hit``).
    """

    cpu_s: int = 120
    memory_mb: int = 2048
    processes: int = 256
    open_files: int = 1024
    file_size_mb: int = 256
    wall_s: float = 300.0
    output_bytes: int = 2_000_000
    disk_mb: int = 2048

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
    """What a finished sandboxed command did.

    ``files`` holds the files named in ``run(collect=...)`` that the command left in its
    private ``/tmp`` (regular files only, never through a link, each at most 5 MB; a name
    ending in ``/`` collects the files directly inside that directory).
    """

    exit_code: int | None
    stdout: str
    stderr: str
    duration_s: float
    limit_hit: LimitName | None = None
    signal: int | None = None
    files: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.limit_hit is None


@dataclass
class Process:
    """A long-running sandboxed process (a deployed app).

    ``url`` is where the host reaches it (a 127.0.0.1 bridge to the listening socket vitco
    handed in); ``log_path`` is its stdout and stderr, in a directory vitco owns.
    ``limit_hit`` says which limit made the host stop it, if one did. ``dial`` connects a
    fresh unix socket to the app's listening socket (what the bridge does; a supervisor's
    stable URL dials through it).
    """

    pid: int
    url: str | None = None
    log_path: Path | None = None
    limit_hit: LimitName | None = None
    _stop: Callable[[], None] | None = field(default=None, repr=False)
    _poll: Callable[[], int | None] | None = field(default=None, repr=False)
    _dial: Callable[[socket.socket], None] | None = field(default=None, repr=False)

    def dial(self, sock: socket.socket) -> None:
        """Connect ``sock`` (a unix stream socket) to the app; ``ConnectionRefusedError`` if
        it was started without one."""
        if self._dial is None:
            raise ConnectionRefusedError("this process serves no socket")
        self._dial(sock)

    def stop(self) -> None:
        """Stop the process and everything it started; idempotent."""
        if self._stop is not None:
            self._stop()

    def poll(self) -> int | None:
        """The exit status once the process has ended (``128 + n`` if killed by signal n),
        else ``None``."""
        return self._poll() if self._poll is not None else None

    def log_tail(self, chars: int = 2_000) -> str:
        """The end of the app's output, for error messages."""
        if self.log_path is None:
            return ""
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(0, 2)
                fh.seek(max(0, fh.tell() - chars * 4))
                data = fh.read()
        except OSError:
            return ""
        return data.decode("utf-8", errors="replace")[-chars:]

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
        env: Mapping[str, str] | None = None,
        readonly: Sequence[Path] = (),
        collect: Sequence[str] = (),
        on_output: OutputCallback | None = None,
        within: str | None = None,
    ) -> Result:
        """Run ``cmd`` with ``workspace`` as the working directory and wait for it.

        ``within``: a subdirectory (one plain name, e.g. ``.venv``) that is then the working
        directory and the only part of the workspace the command sees.
        ``readonly``: directories vitco owns (outside every workspace, e.g. its wheel cache)
        that the command may read at their own path. ``collect``: names of files the command
        leaves in its private ``/tmp`` (``{tmp}`` in ``cmd``) to hand back in
        ``Result.files``. ``on_output`` receives output as it arrives, within the
        captured-output limit. The command never has a network.
        """
        ...

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
        """Start a long-running ``cmd`` that serves on the listening unix socket vitco creates
        and hands in as file descriptor ``{fd}``; the returned ``Process.url`` reaches it.

        ``data``: a directory vitco owns, outside every workspace, that the app may write and
        that outlives it (its database); mounted read-write (at ``DATA_MOUNT`` in bwrap) and
        named to the app by ``DATA_ENV``, which the caller cannot override. Sandboxed code
        writes it, so the host treats everything in it as hostile."""
        ...

    def for_project(self, slot: int) -> Sandbox:
        """This sandbox, running commands as the uid of the project with sandbox slot
        ``slot`` (each project its own uid and process budget)."""
        ...
