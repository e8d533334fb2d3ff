"""Runs a delivered project's test suite in the sandbox and reads back a structured result.

The project gets its own virtualenv (``--without-pip --system-site-packages``, ~0.1 s), plus a
``.pth`` line that makes the packages of the environment vitco runs in visible: the demo project
needs nothing vitco's own install lacks, so tests run with no network. The pytest plugins of
vitco's own environment (langsmith's and hypothesis' cost ~2.5 s per run; pytest-benchmark
writes files) are switched off with ``-p no:NAME``; plugins installed into the project's own venv
stay on. pytest writes a JUnit XML report, which is parsed instead of scraping its console output.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path

from pydantic import BaseModel, Field

from vitco.sandbox.protocol import Limits, Sandbox

REPORT_DIR = ".vitco"
MAX_FAILURE_CHARS = 2_000
MAX_OUTPUT_CHARS = 4_000


class Failure(BaseModel):
    test: str
    output: str


class TestReport(BaseModel):
    """The outcome of one test run."""

    __test__ = False  # not a pytest test class

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    exit_code: int | None = None
    duration_s: float = 0.0
    limit_hit: str | None = None
    failures: list[Failure] = Field(default_factory=list)
    output: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.failed == 0 and self.errors == 0 and self.passed > 0

    def summary(self) -> str:
        text = f"{self.passed} passed, {self.failed} failed, {self.errors} errors"
        if self.limit_hit:
            text += f" (stopped by the {self.limit_hit} limit)"
        return text

    def feedback(self) -> str:
        """What a developer needs to fix the failures, trimmed."""
        parts = [self.summary()]
        for f in self.failures:
            parts.append(f"--- {f.test}\n{f.output}")
        if not self.failures and self.output:
            parts.append(self.output)
        return "\n".join(parts)[: MAX_FAILURE_CHARS * 4]


HOST_PLUGINS = ".vitco-host-plugins"
_LIST_PLUGINS = """
import sys
from importlib.metadata import entry_points
for ep in entry_points(group="pytest11"):
    path = str(getattr(ep.dist, "_path", ""))
    if not path.startswith(sys.prefix + "/"):
        print(ep.name)
"""


def host_plugins(venv_python: Path) -> list[str]:
    """The pytest plugins a venv sees that come from outside it (listed once, at creation)."""
    cached = venv_python.parent.parent / HOST_PLUGINS
    if not cached.is_file():
        proc = subprocess.run(
            [str(venv_python), "-c", _LIST_PLUGINS],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        cached.write_text(proc.stdout, encoding="utf-8")
    return [n for n in cached.read_text(encoding="utf-8").split() if n]


def ensure_venv(root: Path) -> Path:
    """The python of ``root/.venv``, created on first use; returns its interpreter path."""
    venv = root / ".venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        if sys.prefix != sys.base_prefix:
            purelib = sysconfig.get_paths()["purelib"]
            site = next((venv / "lib").glob("python3*/site-packages"))
            (site / "vitco-host.pth").write_text(purelib + "\n", encoding="utf-8")
        host_plugins(python)
    return python


def _trim(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... [{len(text) - limit} characters trimmed] ...\n{text[-half:]}"


def parse_junit(path: Path) -> TestReport:
    """Counts and failures from a pytest JUnit XML file."""
    report = TestReport()
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}".strip(":")
        failure = case.find("failure")
        error = case.find("error")
        if failure is not None or error is not None:
            node = failure if failure is not None else error
            assert node is not None
            if failure is not None:
                report.failed += 1
            else:
                report.errors += 1
            body = f"{node.get('message', '')}\n{node.text or ''}"
            report.failures.append(Failure(test=name, output=_trim(body, MAX_FAILURE_CHARS)))
        elif case.find("skipped") is not None:
            report.skipped += 1
        else:
            report.passed += 1
    return report


def run_tests(
    sandbox: Sandbox,
    root: Path,
    *,
    limits: Limits | None = None,
    command: list[str] | None = None,
) -> TestReport:
    """Run the project's tests under ``root`` in ``sandbox``; never raises for failing tests."""
    python = ensure_venv(root)
    (root / REPORT_DIR).mkdir(exist_ok=True)
    junit = root / REPORT_DIR / "junit.xml"
    junit.unlink(missing_ok=True)
    argv = command or [
        str(python),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        *(f"-pno:{name}" for name in host_plugins(python)),
        f"--junitxml={junit}",
        "-o",
        "junit_family=xunit1",
    ]
    result = sandbox.run(argv, root, limits, env={"PYTHONDONTWRITEBYTECODE": "1"})
    output = _trim(result.stdout + "\n" + result.stderr, MAX_OUTPUT_CHARS)
    report = parse_junit(junit) if junit.is_file() and junit.stat().st_size else TestReport()
    report.exit_code = result.exit_code
    report.duration_s = result.duration_s
    report.limit_hit = result.limit_hit
    report.output = output
    if result.exit_code not in (0, 1) and not report.failures:
        # pytest itself failed (collection error, no tests, crash): the output is the feedback.
        report.errors = max(report.errors, 1)
    return report
