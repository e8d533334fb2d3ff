"""A stand-in for the ``python-service`` toolchain, for tests whose subject is not the
toolchain: the fleet, takeovers, gate answers, dependency restarts, forks, the remote CLI. The
demo's sandboxed commands (pytest of the project five times per run, its whole suite, its app
started and smoke-tested) are about 9 of a demo run's 11 s on this machine, and they measure
its cores, not what those tests check. Tests that are about the delivery itself (the demo, the
crash and interrupt chains, the API lifecycle and live events, deployments, toolchains) keep
the real one.

Everything else of a demo run is real: the ``deliver-project`` template, every step's code, the
17 model calls of the demo cassette, the commits and merges, the deployment record, the mail.
The stand-in still runs its checks in the sandbox (a ``sh`` one-liner, so the host reads
nothing from a workspace) and fails where the demo's real tests fail: task T2's first
``todo/app.py`` answers POST with 200, not 201 (the cassette's one real bug), so the fix loop
of the demo (T2's second attempt) runs here too and every recorded call is asked for. Its
contract (what the prompts say) is the real toolchain's.

In a vitco process a test starts: ``PRELUDE`` (``tests.processes.vitco(prelude)``, with the
repository on ``PYTHONPATH``: ``ENV``); in the test's own process: ``installed()``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel

from vitco.sandbox.protocol import Process
from vitco.toolchains import get_toolchain, register
from vitco.toolchains.protocol import Check, Contract, Shipment, Tools
from vitco.toolchains.report import Failure, TestReport

REAL = get_toolchain("python-service")
# the demo's bug: T2's first app answers POST /todos with 200 (fixed: status_code=201)
TESTS = 'test ! -e todo/app.py || grep -q "status_code=201" todo/app.py'
SHIP = "test -f todo/app.py && test -f todo/store.py"


class StandInService:
    """``python-service`` as far as the workflow can tell, without running the project."""

    name = REAL.name
    kind = REAL.kind
    summary = REAL.summary
    plan_type = REAL.plan_type

    def contract(self) -> Contract:
        return REAL.contract()

    def test(self, tools: Tools, root: Path) -> TestReport:
        result = tools.sandbox.run(["sh", "-c", TESTS], root, tools.limits)
        if result.ok:
            return TestReport(passed=1, exit_code=0, duration_s=result.duration_s)
        failure = Failure(
            test="tests/test_api.py::test_create_answers_201_with_the_new_todo",
            output="assert 200 == 201 (POST /todos must answer 201 Created)",
        )
        return TestReport(failed=1, exit_code=1, duration_s=result.duration_s, failures=[failure])

    def ship(
        self, tools: Tools, root: Path, plan: BaseModel | None
    ) -> tuple[Shipment, Process | None]:
        result = tools.sandbox.run(["sh", "-c", SHIP], root, tools.limits)
        check = Check(name="the app's modules are there", ok=result.ok)
        summary = "checked in the sandbox, not started (the tests' stand-in toolchain)"
        return Shipment(kind="service", summary=summary, checks=[check]), None


ROOT = Path(__file__).resolve().parents[1]
PRELUDE = "import tests.standin; tests.standin.install()"
ENV = {"PYTHONPATH": str(ROOT)}
"""What a vitco process started with ``PRELUDE`` needs in its environment."""


def install() -> None:
    """Register the stand-in in place of ``python-service`` for the rest of this process."""
    register(StandInService(), replace=True)


@contextmanager
def installed() -> Iterator[None]:
    """The stand-in in this process while the block runs; the real toolchain again after."""
    install()
    try:
        yield
    finally:
        register(REAL, replace=True)
