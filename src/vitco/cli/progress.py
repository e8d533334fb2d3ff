"""Live progress of a run: one line per event, a spinner naming the current step and agent,
how long it has been running and what the run has spent so far.

On a terminal it uses rich (colours, a spinner whose line says ``step 0:42 · run 3:10 ·
$0.0123``, refreshed every second); when stdout is not a terminal it degrades to plain
time-stamped lines, and a step that runs long gets a line every ``heartbeat_s`` saying so (a
log shows the run is alive, and what it costs). With ``--json`` progress goes to stderr, and
only if that is a terminal; ``vitco -q`` turns it off.

The spend is the run's total in the cost ledger, read through ``spent`` (see
:func:`ledger_spent`) when an event arrives, at most once a second: model calls are recorded
as they are answered, so it moves during a step, not only at its end. Time comes from
``clock`` (``time.monotonic``), passed in so tests need not sleep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console

from vitco.cli.output import verbosity

if TYPE_CHECKING:
    from rich.status import Status

    from vitco.config import Settings
    from vitco.store import Store
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
HEARTBEAT_S = 30.0
SPEND_EVERY_S = 1.0


def ledger_spent(settings: Settings) -> Callable[[str], float]:
    """A run's spend so far (USD) from the cost ledger; the store is opened on first use."""
    from vitco.cli.output import store_of

    opened: list[Store] = []

    def spent(run_id: str) -> float:
        if not opened:
            opened.append(store_of(settings))
        rows = opened[0].cost_breakdown(by="run", run_id=run_id)
        return float(sum(row["usd"] for row in rows))

    return spent


def clock_text(seconds: float) -> str:
    """``42s``, ``3:10``, ``1:02:03``."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class RunProgress:
    """An ``on_event`` sink that renders progress to a console."""

    def __init__(
        self,
        console: Console,
        *,
        enabled: bool = True,
        spent: Callable[[str], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self.console = console
        self.enabled = enabled and verbosity() >= 0  # vitco --quiet: no progress
        self.live = self.enabled and console.is_terminal
        self.spent = spent
        self.clock = clock
        self.heartbeat_s = heartbeat_s
        self._status: Status | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        began = clock()
        self._run_began = self._step_began = self._said_at = began
        self._step = "starting"
        self._run_id: str | None = None
        self._usd: float | None = None
        self._usd_at = float("-inf")

    def __enter__(self) -> RunProgress:
        if self.live:
            self._status = self.console.status("starting", spinner="dots")
            self._status.start()
        if self.enabled:
            self._ticker = threading.Thread(target=self._tick_every_second, daemon=True)
            self._ticker.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        if self._status is not None:
            self._status.stop()

    def __call__(self, event: Event) -> None:
        if not self.enabled:
            return
        icon, style = STYLE.get(event.kind, ("·", "white"))
        where = f"[{event.task}] " if event.task else ""
        with self._lock:
            now = self.clock()
            self._run_id = event.run_id
            self._said_at = now
            if event.kind == "step":
                self._step, self._step_began = f"{where}{event.message}", now
            self._refresh_spend(now, force=True)
            if self.live:
                self.console.print(f"[{style}]{icon}[/] {where}{event.message}", highlight=False)
                self._update_status(now)
            else:
                stamp = event.ts.strftime("%H:%M:%S")
                self.console.print(
                    f"{stamp} {event.kind:<8} {where}{event.message}",
                    highlight=False,
                    soft_wrap=True,
                )

    def status_text(self, now: float | None = None) -> str:
        """What the spinner says: the step, how long it and the run have taken, the spend."""
        now = self.clock() if now is None else now
        text = (
            f"{self._step} · step {clock_text(now - self._step_began)}"
            f" · run {clock_text(now - self._run_began)}"
        )
        if self._usd is not None:
            text += f" · ${self._usd:.4f}"
        return text

    def tick(self) -> None:
        """Once a second (from the ticker thread): refresh the spinner; in plain output, a
        line when the current step has said nothing for ``heartbeat_s``."""
        with self._lock:
            now = self.clock()
            self._refresh_spend(now)
            if self.live:
                self._update_status(now)
            elif now - self._said_at >= self.heartbeat_s:
                self._said_at = now
                stamp = datetime.now(UTC).strftime("%H:%M:%S")  # like the events' times
                self.console.print(
                    f"{stamp} {'running':<8} {self.status_text(now)}",
                    highlight=False,
                    soft_wrap=True,
                )

    def _tick_every_second(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.tick()
            except Exception:  # a display problem (closed pipe, closed store) ends the display
                return

    def _update_status(self, now: float) -> None:
        if self._status is not None:
            self._status.update(self.status_text(now))

    def _refresh_spend(self, now: float, *, force: bool = False) -> None:
        if self.spent is None or self._run_id is None:
            return
        if not force and now - self._usd_at < SPEND_EVERY_S:
            return
        if force and now - self._usd_at < SPEND_EVERY_S / 4:
            return  # a burst of events: one read
        self._usd_at = now
        try:
            self._usd = self.spent(self._run_id)
        except Exception:  # the ledger cannot be read: show no spend rather than stop the run
            self.spent, self._usd = None, None
