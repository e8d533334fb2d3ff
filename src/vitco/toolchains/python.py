"""What every Python toolchain shares: a venv per project, ``requirements.txt``, pytest.

Runs a delivered project's test suite in the sandbox and reads back a structured result.

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

import platform
import sys
import sysconfig
from functools import cache
from importlib import metadata
from pathlib import Path

from pydantic import BaseModel

from vitco.sandbox.protocol import TMP_PLACEHOLDER, Limits, Sandbox
from vitco.toolchains.exceptions import REQUIREMENTS, BadRequirements, DependencyInstallFailed
from vitco.toolchains.protocol import Contract, Kind, Tools
from vitco.toolchains.report import MAX_OUTPUT_CHARS, TestReport, parse_junit, trim
from vitco.toolchains.wheels import (
    INSTALLED_MARK,
    fill_wheels,
    install_argv,
    parse_requirements,
    satisfied,
)
from vitco.workspace.exceptions import UnsafePath
from vitco.workspace.paths import read_inside

JUNIT = "junit.xml"


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
    if not reqs.wheels and all(satisfied(r, host_site_dirs()) for r in reqs.named):
        return False  # the venv sees vitco's environment, which has them all
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
        return TestReport(errors=1, output=trim(str(exc) + "\n" + exc.output, MAX_OUTPUT_CHARS))
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
    output = trim(result.stdout + "\n" + result.stderr, MAX_OUTPUT_CHARS)
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


# Packages a project commonly imports, named in the contract when vitco's environment has them
# (the project's venv sees that environment, so they need no requirements line).
NOTABLE = (
    "fastapi",
    "starlette",
    "pydantic",
    "uvicorn",
    "httpx",
    "requests",
    "flask",
    "click",
    "typer",
    "rich",
    "sqlalchemy",
    "jinja2",
    "pyyaml",
    "pytest",
    "hypothesis",
)


@cache
def available_packages() -> tuple[str, ...]:
    """``name==version`` of the notable packages the project's venv already sees."""
    found = {}
    for dist in metadata.distributions(path=host_site_dirs()):
        name = (dist.metadata["Name"] or "").lower()
        if name in NOTABLE:
            found[name] = f"{name}=={dist.version}"
    return tuple(found[n] for n in NOTABLE if n in found)


INSTALLABLE = (
    "the project is an installable package: pyproject.toml with [build-system] requires = "
    '["setuptools>=61"] and build-backend = "setuptools.build_meta", and [project] name, '
    "version"
)
"""What the CLI and library toolchains ask of a project; vitco builds it offline with pip."""


class PythonToolchain:
    """The shared half of ``python-service``, ``python-cli`` and ``python-library``."""

    name = "python"
    kind: Kind = "library"
    summary = ""
    plan_type: type[BaseModel] | None = None
    delivery = ""
    data: str | None = None
    notes: tuple[str, ...] = ()

    def contract(self) -> Contract:
        return Contract(
            toolchain=self.name,
            kind=self.kind,
            runtime=f"Python {platform.python_version()} ({platform.python_implementation()})",
            tests=(
                "`python -m pytest -q` runs in the repository root with that root first on "
                "sys.path (a "
                "top-level package pkg/ is imported as `import pkg`); the run has no network, "
                "a private /tmp and HOME, and its own process, memory and time limits."
            ),
            test_paths=["tests/"],
            dependencies=(
                "list third-party packages in requirements.txt, one plain requirement per line "
                "(a name and a version range; no options, URLs or paths); only packages that "
                "publish binary wheels can be installed. Already available without a line: "
                + (", ".join(available_packages()) or "the standard library only")
                + "."
            ),
            delivery=self.delivery,
            data=self.data,
            notes=list(self.notes),
        )

    def test(self, tools: Tools, root: Path) -> TestReport:
        return run_tests(tools.sandbox, root, wheels=tools.caches / "wheels", limits=tools.limits)
