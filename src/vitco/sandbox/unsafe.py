"""UNSAFE: runs generated code as a plain subprocess, with rlimits and nothing else.

There is no isolation here: the command runs as vitco's own user, with vitco's network, and can
read and write everything vitco can (its database, its secrets, other projects, the home dir).
What it still gets: a clean environment (no inherited secrets), rlimits via ``prlimit``, a wall
clock and an output cap, HOME and TMPDIR inside ``<workspace>/.vitco``, and its process group
killed when it ends. A process that calls ``setsid`` escapes that kill; bwrap's pid namespace
does not have this hole.

It exists for machines where bubblewrap cannot run (some containers, macOS) and must be chosen
explicitly: ``UnsafeSandbox(explicit=True)``, which ``get_sandbox`` passes only when
``Settings.sandbox == "unsafe"``. Every instance logs a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from vitco.sandbox import _process
from vitco.sandbox.exceptions import UnsafeSandboxRefused
from vitco.sandbox.limits import prlimit_argv, to_result
from vitco.sandbox.protocol import Limits, OutputCallback, Process, Result
from vitco.sandbox.workspace import (
    PRIVATE_DIR,
    base_env,
    check_workspace,
    check_writable,
    fits,
    fresh_socket,
    substitute_socket,
)

logger = logging.getLogger("vitco.sandbox")

WARNING = (
    "UNSAFE sandbox selected: generated code runs WITHOUT isolation (no network, filesystem or "
    "process confinement; only rlimits). Use it only on a machine you can throw away."
)


class UnsafeSandbox:
    """A clearly labelled non-sandbox: subprocess + rlimits (see the module docstring)."""

    name = "unsafe"

    def __init__(self, *, explicit: bool = False, protected: Sequence[Path] = ()) -> None:
        if not explicit:
            raise UnsafeSandboxRefused()
        self.protected = list(protected)
        logger.warning(WARNING)

    def _prepare(
        self, workspace: Path, env: Mapping[str, str] | None
    ) -> tuple[Path, dict[str, str]]:
        ws = check_workspace(workspace, self.protected)
        private = ws / PRIVATE_DIR
        for d in (private / "home", private / "tmp"):
            d.mkdir(parents=True, exist_ok=True)
        return ws, base_env(ws, private / "home", private / "tmp", env)

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
        """Run ``cmd`` in ``workspace`` with rlimits only. ``network`` and ``writable`` cannot
        be enforced here; they are accepted so callers need not know which sandbox runs."""
        limits = limits or Limits()
        ws, full_env = self._prepare(workspace, env)
        check_writable(ws, writable)
        finished = _process.run(
            [*prlimit_argv(limits), *cmd],
            cwd=ws,
            env=full_env,
            wall_s=limits.wall_s,
            output_bytes=limits.output_bytes,
            on_output=on_output,
        )
        return to_result(finished, limits, signal_from_128=False)

    def start(
        self,
        cmd: Sequence[str],
        workspace: Path,
        limits: Limits | None = None,
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
    ) -> Process:
        """Start a long-running ``cmd``; ``{socket}`` becomes ``<ws>/.vitco/app.sock`` and
        ``Process.url`` is a 127.0.0.1 bridge to it. ``wall_s`` does not apply;
        ``cpu_s`` does, per process: give a long-running app a large one."""
        limits = limits or Limits()
        ws, full_env = self._prepare(workspace, env)
        sock = fresh_socket(ws)
        # a path too long for a socket address is given relative to the app's cwd, the workspace
        inside = sock if fits(sock) else sock.relative_to(ws)
        argv = [*prlimit_argv(limits), *substitute_socket(cmd, inside)]
        return _process.launch(argv, ws, full_env, sock, log_path)
