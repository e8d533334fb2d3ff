"""Live progress of a run: one line per event, a spinner naming the current step and agent.

On a terminal it uses rich (colours, a spinner); when stdout is not a terminal it degrades to
plain time-stamped lines. With ``--json`` progress goes to stderr, and only if that is a terminal.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console

from vitco.cli.output import verbosity

if TYPE_CHECKING:
    from rich.status import Status

    from vitco.store.models import Event

STYLE = {
    "step": ("•", "cyan"),
    "spec": ("✓", "green"),
    "plan": ("✓", "green"),
    "tests": ("⚗", "magenta"),
    "retry": ("↺", "yellow"),
    "commit": ("✓", "green"),
    "deploy": ("🚀", "green"),
    "mail": ("✉", "green"),
    "warning": ("!", "yellow"),
    "needs_attention": ("!", "bold red"),
    "error": ("✗", "bold red"),
    "run": ("▶", "bold"),
}


class RunProgress:
    """An ``on_event`` sink that renders progress to a console."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self.console = console
        self.enabled = enabled and verbosity() >= 0  # vitco --quiet: no progress
        self.live = enabled and console.is_terminal
        self._status: Status | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> RunProgress:
        if self.live:
            self._status = self.console.status("starting", spinner="dots")
            self._status.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._status is not None:
            self._status.stop()

    def __call__(self, event: Event) -> None:
        if not self.enabled:
            return
        icon, style = STYLE.get(event.kind, ("·", "white"))
        where = f"[{event.task}] " if event.task else ""
        with self._lock:
            if self.live:
                self.console.print(f"[{style}]{icon}[/] {where}{event.message}", highlight=False)
                if self._status is not None and event.kind == "step":
                    self._status.update(f"{where}{event.message}")
            else:
                stamp = event.ts.strftime("%H:%M:%S")
                self.console.print(
                    f"{stamp} {event.kind:<8} {where}{event.message}",
                    highlight=False,
                    soft_wrap=True,
                )
