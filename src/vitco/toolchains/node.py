"""``node-service``: an HTTP service in Node.js, tested with Node's own runner.

Dependencies: ``package.json``'s ``dependencies`` are checked by the host (plain names and
semver ranges only: no ``file:``, ``git``, URLs or aliases), installed by the host with npm and
``--ignore-scripts`` into ``<caches>/npm/<digest>/`` (so no package code runs, and nothing is
written into the workspace), and shown to the sandbox read-only through ``NODE_PATH``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from pydantic import BaseModel

from vitco.sandbox.protocol import TMP_PLACEHOLDER, Limits, Process
from vitco.toolchains.cache import filled_once
from vitco.toolchains.exceptions import DependencyInstallFailed
from vitco.toolchains.plans import DeployPlan
from vitco.toolchains.protocol import Contract, Kind, Shipment, Tools
from vitco.toolchains.report import MAX_OUTPUT_CHARS, TestReport, parse_junit, trim
from vitco.toolchains.service import data_contract, ship_service
from vitco.workspace.paths import read_inside

JUNIT = "junit.xml"
_NAME = re.compile(r"^(@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]{0,213}$")
_RANGE = re.compile(r"^[0-9xX*^~<>=|. +-]*[0-9a-zA-Z.+-]*$")
INSTALL_TIMEOUT_S = 600.0
# V8 reserves far more address space than it uses (WebAssembly, which Node's own fetch runs on,
# reserves ~10 GiB per instance), so under the usual RLIMIT_AS Node cannot even fetch. Node
# gets this much address space instead, and its heap is capped by --max-old-space-size at the
# memory limit the run asked for.
NODE_ADDRESS_SPACE_MB = 64 * 1024


def node_limits(limits: Limits) -> tuple[Limits, dict[str, str]]:
    """The limits a Node process runs with, and the NODE_OPTIONS that cap its heap."""
    heap = f"--max-old-space-size={limits.memory_mb}"
    wide = limits.with_overrides(memory_mb=max(limits.memory_mb, NODE_ADDRESS_SPACE_MB))
    return wide, {"NODE_OPTIONS": heap}


@cache
def node_version() -> str:
    node = shutil.which("node")
    if node is None:
        return "Node.js (not installed)"
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    return f"Node.js {out.stdout.strip()}"


def dependencies(root: Path) -> dict[str, str]:
    """``package.json``'s dependencies, checked; ``DependencyInstallFailed`` names a bad one."""
    data = read_inside(root, "package.json")
    if not data:
        return {}
    try:
        package = json.loads(data)
    except ValueError as exc:
        raise DependencyInstallFailed(f"package.json is not JSON: {exc}", "reading") from None
    deps = package.get("dependencies") if isinstance(package, dict) else None
    if not deps:
        return {}
    if not isinstance(deps, dict):
        raise DependencyInstallFailed("package.json: dependencies must be an object", "reading")
    for name, spec in deps.items():
        if not (isinstance(spec, str) and _NAME.match(str(name)) and _RANGE.match(spec)):
            raise DependencyInstallFailed(
                f"package.json: dependency {name!r}: {spec!r} is not a package name with a "
                "version range (no file:, git, URLs or aliases)",
                "reading",
            )
    return {str(k): str(v) for k, v in sorted(deps.items())}


def fill_packages(deps: dict[str, str], cache_dir: Path) -> Path:
    """``<cache>/npm/<digest>/node_modules`` holding ``deps``, installed once by the host with
    ``npm install --ignore-scripts`` in a directory of its own."""
    digest = hashlib.sha256(json.dumps(deps, sort_keys=True).encode()).hexdigest()[:32]
    npm = shutil.which("npm")
    if npm is None:
        raise DependencyInstallFailed("npm is not installed on this machine", "fetching")

    def fill(tmp: Path) -> None:
        manifest = {"name": "vitco-deps", "private": True, "dependencies": deps}
        (tmp / "package.json").write_text(json.dumps(manifest), encoding="utf-8")
        proc = subprocess.run(
            [npm, "install", "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev"],
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
        if proc.returncode != 0:
            raise DependencyInstallFailed(proc.stdout + proc.stderr, "fetching")

    return filled_once(cache_dir / "npm", digest, fill)


class NodeService:
    """Tests with ``node --test``; delivered like ``python-service``: started in the sandbox on
    a socket vitco hands in, health-checked and smoke-tested."""

    name = "node-service"
    kind: Kind = "service"
    summary = "an HTTP service in Node.js (CommonJS, node:http or a framework), started live"
    plan_type: type[BaseModel] | None = DeployPlan

    def contract(self) -> Contract:
        return Contract(
            toolchain=self.name,
            kind=self.kind,
            runtime=node_version(),
            tests=(
                "`node --test` (Node's built-in runner, node:test and node:assert) runs in the "
                "repository root; it finds *.test.js files and files under test/; no network, "
                "a private /tmp and HOME."
            ),
            test_paths=["test/", "tests/"],
            dependencies=(
                "list them in package.json under dependencies (names and semver ranges only); "
                "vitco installs them without running install scripts and exposes them through "
                "NODE_PATH, so load them with require() (CommonJS), not import."
            ),
            delivery=(
                "DevOps names the start command, e.g. ['node', 'server.js', '{fd}']. vitco "
                "runs it in the sandbox with no network and hands it an already listening unix "
                "socket as file descriptor {fd}: serve with server.listen({fd: Number(fd)}); "
                "the app cannot bind a port or a path of its own. vitco waits until the health "
                "path answers 200, then sends the smoke requests in order."
            ),
            data=data_contract("process.env.DATA_DIR = fs.mkdtempSync(...)"),
            notes=[
                "Export the request handler from a module so tests can call it without "
                "listening, e.g. module.exports = { handler } and http.createServer(handler)."
            ],
        )

    def _env(self, tools: Tools, root: Path) -> tuple[Limits, dict[str, str], list[Path]]:
        limits, env = node_limits(tools.limits)
        deps = dependencies(root)
        if not deps:
            return limits, env, []
        filled = fill_packages(deps, tools.caches)
        return limits, env | {"NODE_PATH": str(filled / "node_modules")}, [filled]

    def test(self, tools: Tools, root: Path) -> TestReport:
        try:
            limits, env, readonly = self._env(tools, root)
        except DependencyInstallFailed as exc:
            return TestReport(errors=1, output=trim(f"{exc}\n{exc.output}", MAX_OUTPUT_CHARS))
        argv = [
            "node",
            "--test",
            "--test-reporter=spec",
            "--test-reporter-destination=stdout",
            "--test-reporter=junit",
            f"--test-reporter-destination={TMP_PLACEHOLDER}/{JUNIT}",
        ]
        result = tools.sandbox.run(argv, root, limits, env=env, readonly=readonly, collect=[JUNIT])
        xml = result.files.get(JUNIT)
        report = parse_junit(xml) if xml else TestReport()
        report.exit_code = result.exit_code
        report.duration_s = result.duration_s
        report.limit_hit = result.limit_hit
        report.output = trim(result.stdout + "\n" + result.stderr, MAX_OUTPUT_CHARS)
        if result.exit_code not in (0, 1) and not report.failures:
            report.errors = max(report.errors, 1)
        return report

    def ship(
        self, tools: Tools, root: Path, plan: BaseModel | None
    ) -> tuple[Shipment, Process | None]:
        limits, env, readonly = self._env(tools, root)
        wide = dataclasses.replace(tools, limits=limits)
        return ship_service(wide, root, plan, env=env, readonly=readonly)
