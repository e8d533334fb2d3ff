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

import sys
import sysconfig
import xml.etree.ElementTree as ET
from functools import cache
from importlib import metadata
from pathlib import Path

from pydantic import BaseModel, Field

from vitco.sandbox.protocol import TMP_PLACEHOLDER, Limits, Sandbox
from vitco.workspace.dependencies import (
    INSTALLED_MARK,
    REQUIREMENTS,
    BadRequirements,
    DependencyInstallFailed,
    fill_wheels,
    install_argv,
    parse_requirements,
)
from vitco.workspace.exceptions import UnsafePath
from vitco.workspace.paths import read_inside

JUNIT = "junit.xml"
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


# Run in the sandbox (with vitco's own, read-only interpreter): the host never creates or
# writes anything inside a workspace. Built under a temporary name and renamed into place, so
# an interrupted creation never leaves a half-made .venv.
_MAKE_VENV = """
import os, sys, tempfile, venv
tmp = tempfile.mkdtemp(prefix=".venv-", dir=".")
venv.EnvBuilder(system_site_packages=True, with_pip=False, symlinks=True).create(tmp)
if sys.argv[1]:
    lib = os.path.join(tmp, "lib")
    site = os.path.join(lib, os.listdir(lib)[0], "site-packages")
    with open(os.path.join(site, "vitco-host.pth"), "w") as fh:
        fh.write(sys.argv[1] + "\\n")
os.chmod(tmp, 0o755)  # mkdtemp made it 0700; bwrap must be able to enter it
os.rename(tmp, ".venv")
"""


def venv_python(root: Path) -> Path:
    """Where the project's interpreter is (inside the sandbox; the host never runs it)."""
    return root / ".venv" / "bin" / "python"


def ensure_venv(sandbox: Sandbox, root: Path) -> Path:
    """The python of ``root/.venv``, created in the sandbox on first use.

    Refuses a ``.venv`` that sandboxed code replaced by a symlink or a file.
    """
    venv = root / ".venv"
    if venv.is_symlink() or (venv.exists() and not venv.is_dir()):
        raise UnsafePath(".venv", "is not a plain directory; remove it to let vitco recreate it")
    if not venv.exists():
        host_site = sysconfig.get_paths()["purelib"] if sys.prefix != sys.base_prefix else ""
        result = sandbox.run([sys.executable, "-I", "-c", _MAKE_VENV, host_site], root)
        if not result.ok:
            raise DependencyInstallFailed(
                result.stdout + result.stderr, stage="creating the venv for"
            )
    return venv_python(root)


def install_requirements(sandbox: Sandbox, root: Path, python: Path, *, wheels: Path) -> bool:
    """Install ``requirements.txt`` into the project's venv, once per content of the file
    (see ``dependencies``: the host checks and fetches, the sandbox installs offline, seeing
    only the venv and the wheels). Returns whether anything was run."""
    text = read_inside(root, REQUIREMENTS)
    if not text or not text.strip():
        return False
    try:
        reqs = parse_requirements(text.decode("utf-8"), root)
    except UnicodeDecodeError:
        raise BadRequirements(1, "", "the file is not UTF-8 text") from None
    if not reqs:
        return False
    digest = reqs.digest()
    if read_inside(root, f".venv/{INSTALLED_MARK}") == digest.encode():
        return False
    found = fill_wheels(reqs, wheels, host_site_dirs())
    result = sandbox.run(
        install_argv(python, reqs, found),
        root,
        env={"VITCO_WHEELS": str(found), "VITCO_DIGEST": digest},
        readonly=[found],
        within=".venv",
    )
    if not result.ok:
        raise DependencyInstallFailed(result.stdout + result.stderr)
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
    wheels: Path,
    limits: Limits | None = None,
    command: list[str] | None = None,
) -> TestReport:
    """Run the project's tests under ``root`` in ``sandbox``; never raises for failing tests.

    ``wheels`` is vitco's wheel cache (see ``dependencies``). pytest writes its JUnit report
    into the command's private ``/tmp``, which the sandbox hands back: the host reads nothing
    from the workspace.
    """
    python = ensure_venv(sandbox, root)
    try:
        install_requirements(sandbox, root, python, wheels=wheels)
    except BadRequirements as exc:
        return TestReport(errors=1, output=str(exc))
    except DependencyInstallFailed as exc:
        return TestReport(errors=1, output=_trim(str(exc) + "\n" + exc.output, MAX_OUTPUT_CHARS))
    argv = command or [
        str(python),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        *(f"-pno:{name}" for name in host_plugins()),
        f"--junitxml={TMP_PLACEHOLDER}/{JUNIT}",
        "-o",
        "junit_family=xunit1",
    ]
    result = sandbox.run(argv, root, limits, env={"PYTHONDONTWRITEBYTECODE": "1"}, collect=[JUNIT])
    output = _trim(result.stdout + "\n" + result.stderr, MAX_OUTPUT_CHARS)
    xml = result.files.get(JUNIT)
    report = parse_junit(xml) if xml else TestReport()
    report.exit_code = result.exit_code
    report.duration_s = result.duration_s
    report.limit_hit = result.limit_hit
    report.output = output
    if result.exit_code not in (0, 1) and not report.failures:
        # pytest itself failed (collection error, no tests, crash): the output is the feedback.
        report.errors = max(report.errors, 1)
    return report
