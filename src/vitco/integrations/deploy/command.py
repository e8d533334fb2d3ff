"""The command target: the user's own build and ship commands (``VITCO_DEPLOY_BUILD_COMMAND``,
``VITCO_DEPLOY_SHIP_COMMAND``), e.g. a script that uploads a release to their server.

The trust boundary. The commands come from the operator's settings and are trusted; the
release's files were written by a model and are not. So:

- the **build** command (``npm run build``, ``python -m build``: it runs what the release's
  files say) runs only in the sandbox, in the release's exported tree, with no network and
  the project's limits;
- the **ship** command runs on the host as vitco's user, but never in or on the tree: it gets
  one argument, the path of a ``.tar.gz`` vitco packed from the tree after the build (regular
  files only, opened without following links, at most ``MAX_BYTES``), its working directory is
  an empty folder of vitco's, its environment holds ``PATH``, ``HOME`` (that folder),
  ``VITCO_PROJECT`` and ``VITCO_COMMIT`` and nothing else of vitco's (no key, no token). What
  the script then does with the tarball's contents is the operator's: it must treat them as
  untrusted data (copy them to a server that runs them confined; never execute them on the
  host). Its last line of output that is an ``http(s)://`` URL is the deployment's URL.

Putting a previous deployment back runs the ship command again with that release's tarball.
"""

from __future__ import annotations

import os
import stat
import subprocess
import tarfile
import uuid
from pathlib import Path

from vitco.integrations.deploy.exceptions import BuildFailed, DeployError
from vitco.integrations.deploy.target import Live, Release
from vitco.sandbox.protocol import Limits, Sandbox

MAX_BYTES = 512 * 1024 * 1024
MAX_FILES = 100_000
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


class ShipFailed(DeployError):
    """The ship command failed or printed no URL (carries the command and its output)."""

    def __init__(self, command: list[str], output: str, reason: str) -> None:
        self.command = command
        self.output = output
        self.reason = reason
        super().__init__(f"ship command {command[0]!r} {reason}: {output.strip()[-500:]}")


def pack(tree: Path, out: Path) -> Path:
    """The regular files under ``tree`` as a ``.tar.gz`` (links and special files left out,
    nothing followed); ``DeployError`` past ``MAX_BYTES`` or ``MAX_FILES``."""
    total = count = 0
    with tarfile.open(out, "w:gz") as tar:
        for folder, dirs, files in os.walk(tree, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(folder, d)))
            for name in sorted(files):
                path = os.path.join(folder, name)
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                except OSError:
                    continue  # a link (ELOOP) or gone
                with os.fdopen(fd, "rb") as fh:
                    info = os.fstat(fh.fileno())
                    if not stat.S_ISREG(info.st_mode):
                        continue
                    total, count = total + info.st_size, count + 1
                    if total > MAX_BYTES or count > MAX_FILES:
                        raise DeployError(f"the release is larger than {MAX_BYTES >> 20} MiB "
                                          f"or {MAX_FILES} files")  # fmt: skip
                    entry = tarfile.TarInfo(os.path.relpath(path, tree))
                    entry.size, entry.mode = info.st_size, 0o644 | (info.st_mode & 0o111)
                    tar.addfile(entry, fh)
    return out


class CommandTarget:
    name = "command"

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        ship: list[str],
        build: list[str] | None = None,
        limits: Limits | None = None,
        timeout_s: float = 600.0,
    ) -> None:
        if not ship:
            raise DeployError("the command target needs a ship command: VITCO_DEPLOY_SHIP_COMMAND")
        self.sandbox, self.ship_argv, self.build = sandbox, ship, build or []
        self.limits, self.timeout_s = limits, timeout_s

    def _shipped(self, release: Release) -> Path:
        return release.tree.parent / "shipped.tar.gz"

    def _ship(self, release: Release, tarball: Path) -> str:
        home = release.tree.parent / f"ship-{uuid.uuid4().hex[:8]}"
        home.mkdir(mode=0o700)
        env = {"PATH": SAFE_PATH, "HOME": str(home), "VITCO_PROJECT": release.project_id,
               "VITCO_COMMIT": release.commit}  # fmt: skip
        argv = [*self.ship_argv, str(tarball)]
        try:
            proc = subprocess.run(
                argv, cwd=home, env=env, capture_output=True, text=True, errors="replace",
                check=False, timeout=self.timeout_s,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise ShipFailed(
                argv, str(exc.stdout or ""), f"ran past {self.timeout_s:.0f}s"
            ) from None
        output = proc.stdout + proc.stderr
        if proc.returncode != 0:
            raise ShipFailed(argv, output, f"exited with status {proc.returncode}")
        urls = [line.strip() for line in proc.stdout.splitlines()
                if line.strip().startswith(("http://", "https://"))]  # fmt: skip
        if not urls or any(c.isspace() for c in urls[-1]):
            raise ShipFailed(argv, output, "printed no http(s):// URL")
        return urls[-1]

    def _built(self, release: Release) -> Path:
        """The release built (in the sandbox) and packed, once per export."""
        shipped = self._shipped(release)
        if not shipped.exists():
            if self.build:
                result = self.sandbox.run(self.build, release.tree, self.limits)
                if not result.ok:
                    raise BuildFailed(self.build, result.stdout + result.stderr)
            pack(release.tree, shipped.with_suffix(".part"))
            os.replace(shipped.with_suffix(".part"), shipped)
        return shipped

    def deploy(self, release: Release) -> Live:
        url = self._ship(release, self._built(release))
        return Live(target=self.name, id=uuid.uuid4().hex[:12], url=url, commit=release.commit)

    def restore(self, live: Live, release: Release) -> Live:
        url = self._ship(release, self._built(release))
        return live.model_copy(update={"url": url})
