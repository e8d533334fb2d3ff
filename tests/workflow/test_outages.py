"""The wait through an outage (``vitco.workflow.outages``) against a fake clock: what counts as
a server going away, the backoff and its limit, what is sent to the graph again, and a
failure that is not an outage passing straight through."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
import redis
from langgraph.types import Command
from sqlalchemy.exc import OperationalError

from vitco.workflow.exceptions import DependencyUnavailable
from vitco.workflow.outages import invoke, payload_after, unavailable, wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _db_down() -> OperationalError:
    return OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused"))


def test_what_counts_as_an_outage() -> None:
    assert unavailable(_db_down())
    assert unavailable(psycopg.OperationalError("server closed the connection"))
    assert unavailable(redis.ConnectionError("Connection refused"))
    try:
        try:
            raise redis.ConnectionError("down")
        except redis.ConnectionError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert unavailable(outer)  # what caused it counts
    assert not unavailable(ValueError("a defect"))
    assert not unavailable(KeyError("x"))


def test_the_wait_backs_off_and_gives_up_with_a_typed_error() -> None:
    clock = Clock()

    def probe() -> None:
        raise _db_down()

    with pytest.raises(DependencyUnavailable) as info:
        wait_until(probe, wait_s=20, first=_db_down(), clock=clock, sleep=clock.sleep)
    assert clock.sleeps[:5] == [0.5, 1.0, 2.0, 4.0, 5.0] and max(clock.sleeps) == 5.0
    assert clock.now == 20 and info.value.wait_s == 20
    assert info.value.error == "OperationalError" and "vitco resume" in str(info.value)


def test_a_probe_failing_otherwise_is_not_waited_out() -> None:
    clock = Clock()

    def probe() -> None:
        raise ValueError("schema broken")

    with pytest.raises(ValueError):
        wait_until(probe, wait_s=20, first=_db_down(), clock=clock, sleep=clock.sleep)
    assert clock.sleeps == [0.5]


def test_what_is_sent_again_after_an_outage() -> None:
    inputs = {"brief_id": "b-1"}
    answer: Command[str] = Command(resume={"approved": True})
    empty = SimpleNamespace(values={}, interrupts=())
    saved = SimpleNamespace(values={"run_id": "r"}, interrupts=())
    gated = SimpleNamespace(values={"run_id": "r"}, interrupts=("Plan OK?",))
    assert payload_after(inputs, empty) is inputs  # the inputs never reached a checkpoint
    assert payload_after(inputs, saved) is None  # go on from the checkpoint
    assert payload_after(answer, gated) is answer  # the gate's answer was not taken yet
    assert payload_after(answer, saved) is None  # it was


def test_invoke_runs_again_from_the_checkpoint_after_each_outage() -> None:
    clock = Clock()
    sent: list[Any] = []
    outages: list[BaseException] = []
    backs: list[float] = []

    def run(payload: Any) -> str:
        sent.append(payload)
        if len(sent) < 3:
            raise _db_down()
        return "delivered"

    probes = iter([_db_down(), None, None])

    def probe() -> Any:
        failure = next(probes)
        if failure is not None:
            raise failure
        return SimpleNamespace(values={"run_id": "r"}, interrupts=())

    result = invoke(
        run, {"brief_id": "b"}, probe=probe, wait_s=60, on_outage=outages.append,
        on_back=backs.append, clock=clock, sleep=clock.sleep,
    )  # fmt: skip
    assert result == "delivered"
    assert sent == [{"brief_id": "b"}, None, None] and len(outages) == 2
    assert backs == [1.5, 0.5]


def test_invoke_lets_a_defect_through_at_once() -> None:
    def run(payload: Any) -> None:
        raise ValueError("a defect")

    def probe() -> None:
        raise AssertionError("not called")

    with pytest.raises(ValueError):
        invoke(run, {}, probe=probe, wait_s=60, on_outage=print, on_back=print)
