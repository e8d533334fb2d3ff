"""UNSAFE: runs generated code as a plain subprocess, with rlimits and nothing else.

There is no isolation here: the command runs as vitco's own user, with vitco's network, and can
read and write everything vitco can (its database, its secrets, other projects, the home dir).
What it still gets: a clean environment (no inherited secrets), rlimits via ``prlimit``, a wall
clock, an output cap and the disk check, a private scratch directory as HOME and TMPDIR (removed
afterwards), a listening socket created by vitco for a started app, and its process group
killed when it ends. A process that calls ``setsid`` escapes that kill; bwrap's pid namespace
does not have this hole.

It exists for machines where bubblewrap cannot run (some containers, macOS) and must be chosen
explicitly: ``UnsafeSandbox(explicit=True)``, which ``get_sandbox`` passes only when
``Settings.sandbox == "unsafe"``. Every instance logs a warning.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from vitco.sandbox import _process
from vitco.sandbox.env import base_env, substitute
from vitco.sandbox.exceptions import BadWorkspace, UnsafeSandboxRefused
from vitco.sandbox.fs import (
    DiskWatch,
    Scratch,
    check_workspace,
    default_state_root,
    open_child_dir,
    open_dir,
)
from vitco.sandbox.limits import MIB, prlimit_argv, to_result
from vitco.sandbox.listener import AppSocket
from vitco.sandbox.protocol import Limits, OutputCallback, Process, Result

logger = logging.getLogger("vitco.sandbox")

WARNING = (
    "UNSAFE sandbox selected: generated code runs WITHOUT isolation (no network, filesystem or "
    "process confinement; only rlimits). Use it only on a machine you can throw away."
)


class UnsafeSandbox:
    """A clearly labelled non-sandbox: subprocess + rlimits (see the module docstring)."""

    name = "unsafe"

    def __init__(
        self,
        *,
        explicit: bool = False,
        protected: Sequence[Path] = (),
        state_root: Path | None = None,
    ) -> None:
        if not explicit:
            raise UnsafeSandboxRefused()
        self.protected = list(protected)
        self.state_root = state_root or default_state_root()
        logger.warning(WARNING)

    def for_project(self, slot: int) -> UnsafeSandbox:
        """The same runner: without isolation there is no uid to switch to."""
        return self

    def _where(self, workspace: Path, within: str | None) -> tuple[Path, int]:
        ws = check_workspace(workspace, self.protected)
        fd = open_dir(ws)
        if within is None:
            return ws, fd
        plain = within not in ("", ".", "..") and "/" not in within
        inner = open_child_dir(fd, within) if plain else None
        os.close(fd)
        if inner is None:
            raise BadWorkspace(ws, f"{within!r} is not a plain directory in it")
        return ws / within, inner

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
        """Run ``cmd`` in ``workspace`` with rlimits only (``readonly`` is not enforced)."""
        limits = limits or Limits()
        path, fd = self._where(workspace, within)
        scratch = Scratch(self.state_root / "tmp", None)
        try:
            finished = _process.run(
                [*prlimit_argv(limits), *substitute(cmd, tmp=str(scratch.path))],
                cwd=path,
                env=base_env(path, scratch.path / "home", scratch.path, env),
                wall_s=limits.wall_s,
                output_bytes=limits.output_bytes,
                on_output=on_output,
                disk=DiskWatch([fd, scratch.fd], limits.disk_mb * MIB),
            )
            files = scratch.collect(collect)
        finally:
            os.close(fd)
            scratch.remove()
        return to_result(finished, limits, signal_from_128=False, files=files)

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
        """Start a long-running ``cmd`` serving on the socket handed in as ``{fd}``;
        ``Process.url`` is a 127.0.0.1 bridge to it. ``wall_s`` does not apply; ``cpu_s``
        does, per process: give a long-running app a large one. ``data`` is named to it by
        ``DATA_DIR`` at its own path (nothing is mounted here)."""
        limits = limits or Limits()
        real = None if data is None else check_workspace(data, self.protected)
        shown = None if real is None else str(real)
        path, fd = self._where(workspace, None)
        trees = [fd] if real is None else [fd, open_dir(real)]
        scratch = Scratch(self.state_root / "tmp", None)
        app = AppSocket(self.state_root / "apps")
        argv = [*prlimit_argv(limits), *substitute(cmd, fd=str(app.fd), tmp=str(scratch.path))]

        released: list[bool] = []

        def release() -> None:
            if not released:
                released.append(True)
                for tree in trees:
                    os.close(tree)
                scratch.remove()

        return _process.launch(
            argv,
            path,
            base_env(path, scratch.path / "home", scratch.path, env, shown),
            app,
            disk=DiskWatch([*trees, scratch.fd], limits.disk_mb * MIB),
            on_stop=release,
        )
