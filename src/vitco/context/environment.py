"""The environment contract every role is told, from one place.

It joins two things: the run's clock (today's date, the time and the time zone when the run
started) and the toolchain's ``Contract`` (Python or Node version, the packages already there
with their versions, how the tests run and where they live, how the app is started and
checked). The clock is taken once per run and recorded in the store (``Store.once``), so a
resumed run, or a replay of its calls, sees the same date: tests and smoke requests that pick
a date ("bookings cannot start in the past") keep meaning what they meant when written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel

from vitco.toolchains.protocol import Contract

SANDBOX = (
    "Tests and the delivered app run in a sandbox with no network; /tmp and HOME are private "
    "and vanish after each command; the repository persists (and a deployed service's "
    "DATA_DIR, when the contract gives one)."
)
SMOKE_ORDER = (
    "Smoke requests run one after another, in the order listed, against the same running app "
    "(what one request creates, the next can read)."
)


class RunClock(BaseModel):
    """When the run started, in the time zone of the host that started it."""

    date: str
    weekday: str
    time: str
    timezone: str
    utc_offset: str

    def render(self) -> str:
        return (
            f"- Today is {self.weekday} {self.date} ({self.timezone}, UTC{self.utc_offset}); "
            f"the run started at {self.time}. Tests and examples that need a date must compute "
            "it relative to today (e.g. date.today() + timedelta(days=1)), never hard-code one."
        )


class ClockStore(Protocol):
    """What the clock needs of the store."""

    def once(self, run_id: str, key: str, do: Any) -> dict[str, Any]: ...


def read_clock(started: datetime) -> RunClock:
    """The clock of a run that started at ``started`` (naive means UTC), in local time."""
    moment = (started if started.tzinfo else started.replace(tzinfo=UTC)).astimezone()
    offset = moment.strftime("%z")
    return RunClock(
        date=moment.date().isoformat(),
        weekday=moment.strftime("%A"),
        time=moment.strftime("%H:%M"),
        timezone=moment.tzname() or "local time",
        utc_offset=f"{offset[:3]}:{offset[3:]}" if offset else "+00:00",
    )


def run_clock(store: ClockStore, run_id: str, started: datetime) -> RunClock:
    """The run's clock, recorded the first time it is asked for and read back after that."""
    recorded = store.once(run_id, f"{run_id}/clock", lambda: read_clock(started).model_dump())
    return RunClock.model_validate(recorded)


def render_environment(clock: RunClock, contract: Contract | None) -> str:
    """The Environment section: the clock, the sandbox, and the toolchain's contract (before
    the plan names a toolchain, only the first two)."""
    lines = [clock.render(), f"- {SANDBOX}"]
    if contract is not None:
        lines.append(contract.render())
        if contract.kind == "service":
            lines.append(f"- {SMOKE_ORDER}")
    return "\n".join(lines)
