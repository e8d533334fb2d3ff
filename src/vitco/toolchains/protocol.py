"""What a toolchain is: how one kind of project is installed, tested, built, shipped and checked.

The manager's plan names a toolchain (``python-service``, ``python-cli``, ``python-library``,
``node-service``, or one registered from outside); from then on every step asks it, never the
language: the developer, QA, the reviewer and DevOps are told its ``Contract`` (how tests run,
where they live, how dependencies are declared, how the work is delivered), the test step calls
``test`` and the delivery step calls ``ship`` with what DevOps answered (``plan_type``; ``None``
when there is nothing to ask).

Every toolchain runs project code only through the ``Sandbox`` in the ``Tools`` it is handed:
dependencies are fetched by the host without running package code and installed offline (see
``toolchains.wheels``), and nothing is read from a workspace through a link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import httpx
from pydantic import BaseModel, Field

from vitco.config import Settings
from vitco.sandbox.protocol import Limits, Process, Sandbox
from vitco.toolchains.report import TestReport

Kind = Literal["service", "cli", "library"]


@dataclass(frozen=True)
class Tools:
    """What a toolchain works with, passed in by the caller (it builds nothing itself).

    ``caches``: a directory vitco owns where the host keeps what it fetched (wheels, npm
    packages), shared by projects and read-only to them. ``out``: a directory vitco owns where
    a delivery's artifacts go (a built package, its docs). ``on_started`` receives a started
    app's process as soon as it runs, so the caller can stop it whatever happens next.
    ``data``: a directory vitco owns, one per project, where a deployed service keeps its
    data (``integrations.deploy.AppData``); ``None``: the service gets no data directory.
    """

    sandbox: Sandbox
    http: httpx.Client
    caches: Path
    out: Path
    limits: Limits = field(default_factory=Limits)
    health_timeout_s: float = 30.0
    on_started: Callable[[Process], None] | None = None
    data: Path | None = None


def project_limits(settings: Settings) -> Limits:
    """The limits of a project's sandboxed commands (from the settings)."""
    return Limits(wall_s=settings.test_timeout_s, disk_mb=settings.sandbox_disk_mb)


def project_tools(
    settings: Settings,
    sandbox: Sandbox,
    http: httpx.Client,
    *,
    run_id: str,
    project_id: str,
    on_started: Callable[[Process], None] | None = None,
) -> Tools:
    """What a toolchain works with for one run of a project: the data dir's caches, the
    run's delivery folder, the project's app data (a run's steps and a deployment's restarts
    both build it here)."""
    return Tools(
        sandbox=sandbox,
        http=http,
        caches=settings.cache_dir,
        out=settings.deliveries_dir / run_id,
        limits=project_limits(settings),
        health_timeout_s=settings.health_timeout_s,
        on_started=on_started,
        data=settings.sandbox_state_dir / "data" / project_id,
    )


class Contract(BaseModel):
    """The environment a project is built in, told to every role that writes or checks it."""

    toolchain: str
    kind: Kind
    runtime: str = Field(description="e.g. 'Python 3.11.7 (CPython)' or 'Node.js v20.20.2'.")
    tests: str = Field(description="How the tests run: the command and what it sees.")
    test_paths: list[str] = Field(description="Where QA's test files go (path prefixes).")
    dependencies: str = Field(description="How to declare a dependency, and what is there.")
    delivery: str = Field(description="How the result is delivered and checked.")
    data: str | None = Field(
        default=None, description="Where a deployed app keeps data that lasts (a service)."
    )
    notes: list[str] = Field(default_factory=list)

    def render(self) -> str:
        """The contract as the prompt section every role gets."""
        lines = [
            f"- Toolchain: {self.toolchain} (a {self.kind}); {self.runtime}.",
            f"- Tests: {self.tests}",
            f"- Test files go under: {', '.join(self.test_paths)}.",
            f"- Dependencies: {self.dependencies}",
            f"- Delivery: {self.delivery}",
            *([f"- Data: {self.data}"] if self.data else []),
            *(f"- {note}" for note in self.notes),
        ]
        return "\n".join(lines)

    def is_test_path(self, path: str) -> bool:
        return any(path == p.rstrip("/") or path.startswith(p) for p in self.test_paths)


class Check(BaseModel):
    """One check of a delivery: a smoke request, a command's run, an import of a package."""

    name: str
    ok: bool
    detail: str = ""


class Shipment(BaseModel):
    """What a delivery produced: a live URL, an installed command, a built package."""

    kind: Kind
    summary: str = Field(description="One line for the report and the mail.")
    url: str | None = None
    checks: list[Check] = Field(default_factory=list)
    artifacts: list[str] = Field(default_factory=list, description="Files under Tools.out.")
    started_s: float = 0.0

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


class Toolchain(Protocol):
    """One kind of project. ``name`` is what a plan names; ``summary`` is the line the
    manager chooses by; ``plan_type`` is the DevOps answer ``ship`` needs (or ``None``)."""

    name: str
    kind: Kind
    summary: str
    plan_type: type[BaseModel] | None

    def contract(self) -> Contract:
        """The environment contract for the prompts."""
        ...

    def test(self, tools: Tools, root: Path) -> TestReport:
        """Install the project's dependencies and run its tests; never raises for failures."""
        ...

    def ship(
        self, tools: Tools, root: Path, plan: BaseModel | None
    ) -> tuple[Shipment, Process | None]:
        """Build and deliver the project at ``root``, then check it; a service also returns
        its running process (the caller owns it). Raises the toolchain's typed errors when
        the delivery cannot be made at all."""
        ...
