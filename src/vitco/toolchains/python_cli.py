"""``python-cli``: a command-line tool in Python, installed into its venv and invoked."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel

from vitco.integrations.deploy import BuildFailed
from vitco.sandbox.protocol import Process
from vitco.toolchains.plans import CommandPlan
from vitco.toolchains.protocol import Check, Kind, Shipment, Tools
from vitco.toolchains.python import INSTALLABLE, PythonToolchain, ensure_venv
from vitco.workspace.paths import read_inside

# pip builds the project with the setuptools the venv already sees: no network, no isolation.
INSTALL = [
    "-I", "-m", "pip", "install", "--no-index", "--no-deps", "--no-build-isolation",
    "--disable-pip-version-check", "--no-input", "--quiet", ".",
]  # fmt: skip
# Feeds a check's stdin without giving the sandbox API a stdin of its own.
_WITH_STDIN = 'printf %s "$VITCO_STDIN" | "$@"'
MAX_DETAIL = 300


def commands(root: Path) -> list[str]:
    """The console scripts ``pyproject.toml`` declares (read without following links)."""
    data = read_inside(root, "pyproject.toml")
    try:
        project = tomllib.loads((data or b"").decode("utf-8")).get("project", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return []
    scripts = project.get("scripts", {}) if isinstance(project, dict) else {}
    return sorted(str(name) for name in scripts) if isinstance(scripts, dict) else []


class PythonCli(PythonToolchain):
    """Tests with pytest; delivered by installing the project (``pip install .``, offline)
    into its venv and running DevOps' smoke invocations of its command."""

    name = "python-cli"
    kind: Kind = "cli"
    summary = "a command-line tool in Python, installed as a command and invoked"
    plan_type: type[BaseModel] | None = CommandPlan
    delivery = (
        f"{INSTALLABLE} and [project.scripts] naming the command (e.g. wordcount = "
        '"wordcount.cli:main"). vitco installs it into the project\'s venv with pip (offline, '
        "no build isolation) and runs DevOps' smoke invocations of the command, each with "
        "an expected exit status and output."
    )
    notes = (
        "Test the command in-process by calling its main(argv) function, or with "
        "subprocess.run([sys.executable, '-m', 'pkg', ...]); the installed command itself is "
        "only on PATH during delivery.",
    )

    def ship(
        self, tools: Tools, root: Path, plan: BaseModel | None
    ) -> tuple[Shipment, Process | None]:
        if not isinstance(plan, CommandPlan):
            raise TypeError(f"{self.name} ships with a CommandPlan, not {type(plan).__name__}")
        python = ensure_venv(tools.sandbox, root)
        installed = tools.sandbox.run([str(python), *INSTALL], root, tools.limits)
        if not installed.ok:
            raise BuildFailed(["pip", "install", "."], installed.stdout + installed.stderr)
        checks = []
        for check in plan.checks:
            argv = [str(a) for a in check.argv]
            env = {}
            if check.stdin is not None:
                argv = ["/bin/sh", "-c", _WITH_STDIN, "sh", *argv]
                env["VITCO_STDIN"] = check.stdin
            result = tools.sandbox.run(argv, root, tools.limits, env=env)
            problems = []
            if result.exit_code != check.expect_exit:
                problems.append(f"exit {result.exit_code} (expected {check.expect_exit})")
            if check.expect_stdout is not None and check.expect_stdout not in result.stdout:
                problems.append(f"stdout lacks {check.expect_stdout!r}")
            output = (result.stdout + result.stderr).strip()[-MAX_DETAIL:]
            detail = "; ".join(problems) + (f": {output}" if problems and output else "")
            checks.append(Check(name=" ".join(check.argv), ok=not problems, detail=detail))
        names = commands(root)
        passed = sum(c.ok for c in checks)
        shipment = Shipment(
            kind=self.kind,
            summary=f"installed {', '.join(names) or 'the package'}; "
            f"{passed} of {len(checks)} invocations passed",
            checks=checks,
        )
        return shipment, None
