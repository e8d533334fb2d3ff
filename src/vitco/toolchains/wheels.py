"""A project's ``requirements.txt``: checked by the host, fetched by the host, installed offline.

The install step used to run ``pip`` in the sandbox with the host's network and the workspace
as its working directory: a project file ``pip.py`` shadowed pip, a build backend named in the
file ran the project's choice of code, and both could reach every service on the host's
loopback. Now no code of the project runs with a network, ever:

1. The host parses the file line by line and accepts only plain requirements (PEP 508 names
   with versions, extras and markers) and relative paths to ``.whl`` files in the workspace.
   Options (``--index-url``, ``-r /etc/shadow``, ``-e .``), URLs and source directories are
   refused with the line number: they would make pip read host files or fetch from anywhere.
2. The host fetches binary wheels only (``pip download --only-binary=:all:``, run with vitco's
   own interpreter in isolated mode, from a directory of its own): downloading a wheel runs no
   code. Requirements that vitco's own environment already satisfies (the project venv sees
   it) are not fetched. The wheels go to ``<data dir>/wheels/<digest>``, filled once per set of
   requirements.
3. The sandbox installs them with no network, seeing only the project's ``.venv`` (writable)
   and that wheel directory (read-only): ``python -I -m pip install --no-index``. ``-I`` keeps
   the working directory and ``PYTHON*`` variables out of ``sys.path``.

A package that has no binary wheel for this Python cannot be installed: building it would run
its code. The error says so.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from vitco.toolchains.cache import filled_once
from vitco.toolchains.exceptions import BadRequirements, DependencyInstallFailed
from vitco.workspace.paths import read_inside

MAX_REQUIREMENTS = 200
MAX_WHEEL_BYTES = 100_000_000
DOWNLOAD_TIMEOUT_S = 900.0
_FILE_LIKE = (".py", ".whl", ".zip", ".tar", ".gz", ".tgz", ".bz2", ".tbz", ".xz", ".txt")
_WHEEL_PATH = re.compile(r"^(\./)?[A-Za-z0-9_.+-]+(/[A-Za-z0-9_.+-]+)*\.whl$")


@dataclass(frozen=True)
class LocalWheel:
    """A ``.whl`` file of the workspace, read by the host (never through a link)."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Requirements:
    """What a ``requirements.txt`` asks for, after the host's checks."""

    named: tuple[Requirement, ...] = ()
    wheels: tuple[LocalWheel, ...] = field(default=())

    def __bool__(self) -> bool:
        return bool(self.named or self.wheels)

    def digest(self) -> str:
        h = hashlib.sha256()
        for req in self.named:
            h.update(str(req).encode() + b"\n")
        for wheel in self.wheels:
            h.update(wheel.name.encode() + hashlib.sha256(wheel.data).digest())
        return h.hexdigest()


def _strip_comment(line: str) -> str:
    if line.lstrip().startswith("#"):
        return ""
    return re.split(r"\s+#", line, maxsplit=1)[0].strip()


def parse_requirements(text: str, root: Path | None = None) -> Requirements:
    """The requirements ``text`` asks for; ``BadRequirements`` names the first line vitco
    refuses. ``root`` is the workspace that relative ``.whl`` paths are read from."""
    named: list[Requirement] = []
    wheels: list[LocalWheel] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw)
        if not line:
            continue
        if len(named) + len(wheels) >= MAX_REQUIREMENTS:
            raise BadRequirements(number, line, f"more than {MAX_REQUIREMENTS} requirements")
        if line.endswith("\\"):
            raise BadRequirements(number, line, "line continuations are not supported")
        if line.startswith("-"):
            raise BadRequirements(
                number,
                line,
                "pip options are not allowed (vitco fetches binary wheels from its own "
                "package index; list plain requirements such as 'httpx>=0.27')",
            )
        if "://" in line or re.search(r"\s@\s", line):
            raise BadRequirements(
                number, line, "direct URLs are not allowed; name the package and a version"
            )
        if line.endswith(".whl"):
            wheels.append(_local_wheel(number, line, root))
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            raise BadRequirements(
                number, line, f"not a requirement vitco can install ({exc})"
            ) from None
        if req.url:
            raise BadRequirements(
                number, line, "direct URLs are not allowed; name the package and a version"
            )
        if req.name.lower().endswith(_FILE_LIKE):
            # pip would take an existing file of that name for a local project or archive
            raise BadRequirements(number, line, "not a requirement: looks like a file name")
        named.append(req)
    return Requirements(tuple(named), tuple(wheels))


def _local_wheel(number: int, line: str, root: Path | None) -> LocalWheel:
    if not _WHEEL_PATH.match(line) or ".." in PurePosixPath(line).parts:
        raise BadRequirements(number, line, "a wheel must be a relative path inside the project")
    name = PurePosixPath(line).name
    try:
        parse_wheel_filename(name)
    except InvalidWheelFilename as exc:
        raise BadRequirements(number, line, f"not a wheel file name ({exc})") from None
    data = read_inside(root, line, limit=MAX_WHEEL_BYTES + 1) if root is not None else None
    if data is None:
        raise BadRequirements(number, line, "no such regular file in the project")
    if len(data) > MAX_WHEEL_BYTES:
        raise BadRequirements(number, line, f"larger than {MAX_WHEEL_BYTES} bytes")
    return LocalWheel(name, data)


def satisfied(req: Requirement, site_dirs: Sequence[str]) -> bool:
    """Whether the environment the project venv sees (``site_dirs``) already has ``req``."""
    if req.marker is not None and not req.marker.evaluate():
        return True  # not for this platform: nothing to fetch
    if req.extras:
        return False  # the extras' own dependencies are not checked here
    for dist in metadata.distributions(name=req.name, path=list(site_dirs)):
        if req.specifier.contains(dist.version, prereleases=True):
            return True
    return False


def fill_wheels(
    reqs: Requirements,
    cache: Path,
    site_dirs: Sequence[str],
    *,
    timeout_s: float = DOWNLOAD_TIMEOUT_S,
) -> Path:
    """The directory of wheels that installs ``reqs`` offline, fetched once per digest.

    Runs ``pip download --only-binary=:all:`` with vitco's own interpreter (``-I``, in a
    directory of its own); the workspace is never its working directory and no code of a
    package runs. ``DependencyInstallFailed`` carries pip's output.
    """

    def fill(tmp: Path) -> None:
        targets = [str(r) for r in reqs.named if not satisfied(r, site_dirs)]
        for wheel in reqs.wheels:
            (tmp / wheel.name).write_bytes(wheel.data)
            targets.append(str(tmp / wheel.name))
        if not targets:
            return
        pip = [sys.executable, "-I", "-m", "pip", "download", "--only-binary=:all:"]
        quiet = ["--no-input", "--disable-pip-version-check", "--progress-bar", "off"]
        proc = subprocess.run(
            [*pip, "--dest", str(tmp), *quiet, *targets],
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if proc.returncode != 0:
            raise DependencyInstallFailed(
                proc.stdout
                + proc.stderr
                + "\nvitco installs binary wheels only (building from source would run "
                "the package's code); pick packages and versions that publish wheels.",
                "fetching",
            )

    return filled_once(cache, reqs.digest()[:32], fill)


def install_argv(python: Path, reqs: Requirements, wheels: Path) -> list[str]:
    """The offline install, run in the sandbox inside the venv: ``python -I -m pip install``
    from ``wheels`` only, writing a mark with the requirements' digest when it succeeds."""
    names = [str(r) for r in reqs.named] + [str(wheels / w.name) for w in reqs.wheels]
    script = (
        '"$0" -I -m pip install --no-index --only-binary=:all: --no-cache-dir '
        '--disable-pip-version-check --no-input --progress-bar off --find-links "$VITCO_WHEELS" '
        '"$@" && printf %s "$VITCO_DIGEST" > ' + INSTALLED_MARK
    )
    return ["/bin/sh", "-c", script, str(python), *names]


INSTALLED_MARK = ".vitco-requirements.sha256"
