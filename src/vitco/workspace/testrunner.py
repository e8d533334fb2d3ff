"""Runs a delivered project's test suite in the sandbox and reads back a structured result.

The project gets its own virtualenv (``--without-pip --system-site-packages``, ~0.1 s), plus a
``.pth`` line that makes the packages of the environment vitco runs in visible: the demo project
needs nothing vitco's own install lacks, so tests run with no network. The pytest plugins of
vitco's own environment (langsmith's and hypothesis' cost ~2.5 s per run; pytest-benchmark
writes files) are switched off with ``-p no:NAME``; plugins installed into the project's own venv
stay on.

The workspace is written by sandboxed code, so on the host side nothing from it is executed,
and nothing is read or written through a symlink it may have planted. pytest writes a JUnit
XML report, which is parsed instead of scraping its console output.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from functools import cache
from importlib import metadata
from pathlib import Path

from pydantic import BaseModel, Field

from vitco.sandbox.protocol import Limits, Sandbox
from vitco.workspace.exceptions import UnsafePath, WorkspaceError
from vitco.workspace.paths import read_inside, safe_path

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


def host_site_dirs() -> list[str]:
    """The site-packages a project venv sees besides its own: the base interpreter's (through
    ``--system-site-packages``) and vitco's own environment's (through the ``.pth`` line)."""
    base = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})
    dirs = [base["purelib"], base["platlib"], sysconfig.get_paths()["purelib"]]
    return sorted({d for d in dirs if Path(d).is_dir()})


@cache
def host_plugins() -> tuple[str, ...]:
    """The pytest plugins installed outside the project's venv.

    Read from this process's view of the host's site-packages, never by running the venv's
    interpreter: the workspace is written by sandboxed code, so the host must never execute
    anything from it.
    """
    names = {
        ep.name
        for dist in metadata.distributions(path=host_site_dirs())
        for ep in dist.entry_points
        if ep.group == "pytest11"
    }
    return tuple(sorted(names))


def ensure_venv(root: Path) -> Path:
    """The python of ``root/.venv``, created on first use; returns its interpreter path.

    Refuses a ``.venv`` that sandboxed code replaced by a symlink (creating it as root would
    write wherever the link points).
    """
    venv = root / ".venv"
    python = venv / "bin" / "python"
    if venv.is_symlink() or (venv.exists() and not venv.is_dir()):
        raise UnsafePath(".venv", "is not a plain directory; remove it to let vitco recreate it")
    if not venv.exists():
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
    return python


REQUIREMENTS = "requirements.txt"
INSTALLED_MARK = ".vitco-requirements.sha256"


class DependencyInstallFailed(WorkspaceError):
    def __init__(self, output: str) -> None:
        self.output = output
        super().__init__(f"installing the project's requirements failed: {output.strip()[-800:]}")


def install_requirements(
    sandbox: Sandbox, root: Path, python: Path, limits: Limits | None = None
) -> bool:
    """Install ``requirements.txt`` into the project's venv, once per content of the file.

    The one sandboxed step with network: it may reach the package index, and it may write only
    the venv. Packages vitco's own environment already has are satisfied from there (the venv
    sees them), so the demo's project installs nothing. Returns whether anything was run.
    """
    wanted = read_inside(root, REQUIREMENTS)
    if not wanted or not wanted.strip():
        return False
    digest = hashlib.sha256(wanted).hexdigest()
    venv = root / ".venv"
    if read_inside(root, f".venv/{INSTALLED_MARK}") == digest.encode():
        return False
    steps = [
        [str(python), "-m", "ensurepip", "--default-pip"],
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-r", REQUIREMENTS],
    ]
    for argv in steps:
        result = sandbox.run(argv, root, limits, network=True, writable=[venv])
        if not result.ok:
            raise DependencyInstallFailed(result.stdout + result.stderr)
    mark = safe_path(root, f".venv/{INSTALLED_MARK}", reserved=False)
    mark.unlink(missing_ok=True)
    mark.write_text(digest, encoding="utf-8")
    return True


def _trim(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... [{len(text) - limit} characters trimmed] ...\n{text[-half:]}"


def parse_junit(xml: bytes) -> TestReport:
    """Counts and failures from a pytest JUnit XML report."""
    report = TestReport()
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        return TestReport(errors=1, output=f"unreadable JUnit report: {exc}")
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
    try:
        install_requirements(sandbox, root, python)
    except DependencyInstallFailed as exc:
        return TestReport(errors=1, output=_trim(exc.output, MAX_OUTPUT_CHARS))
    junit = safe_path(root, f"{REPORT_DIR}/junit.xml", reserved=False)
    junit.parent.mkdir(exist_ok=True)
    junit.unlink(missing_ok=True)
    argv = command or [
        str(python),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        *(f"-pno:{name}" for name in host_plugins()),
        f"--junitxml={junit}",
        "-o",
        "junit_family=xunit1",
    ]
    result = sandbox.run(argv, root, limits, env={"PYTHONDONTWRITEBYTECODE": "1"})
    output = _trim(result.stdout + "\n" + result.stderr, MAX_OUTPUT_CHARS)
    xml = read_inside(root, f"{REPORT_DIR}/junit.xml", limit=5_000_000)
    report = parse_junit(xml) if xml else TestReport()
    report.exit_code = result.exit_code
    report.duration_s = result.duration_s
    report.limit_hit = result.limit_hit
    report.output = output
    if result.exit_code not in (0, 1) and not report.failures:
        # pytest itself failed (collection error, no tests, crash): the output is the feedback.
        report.errors = max(report.errors, 1)
    return report
