"""Deploy targets: where a release of a project goes live, and going back when it fails.

A ``Release`` is one commit of a project, exported by vitco from git's objects (never from a
working tree sandboxed code wrote) into a folder of its own under the data dir: the regular
files of the commit (``git.archive``: no links, no paths that climb) as a tree and as a
``.tar.gz``. A ``DeployTarget`` puts a release live (``deploy``) and puts an earlier live
deployment back (``restore``). :func:`ship` is the policy every target shares: deploy, smoke
test the URL, and when the smoke test fails put the previous deployment back and say so
(``Shipped.rolled_back``), so a bad release never stays live where a good one was.

Targets (one conformance suite, ``tests/integrations/test_deploy_targets.py``): ``local``
(the app in the sandbox, ``deploy/local.py``), ``command`` (the user's own commands,
``deploy/command.py``), ``vercel`` (``deploy/vercel.py``).
"""

from __future__ import annotations

import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field

from vitco.integrations.deploy.exceptions import DeployError
from vitco.integrations.deploy.smoke import SmokeResult
from vitco.integrations.git.archive import write_archive
from vitco.integrations.git.host import slug
from vitco.integrations.git.repo import Repo


class Release(BaseModel):
    """One commit of a project, exported: ``tree`` (its files) and ``tarball`` (the same)."""

    project_id: str
    name: str = Field(description="A safe name for the project on the target.")
    commit: str
    tree: Path
    tarball: Path


class Live(BaseModel):
    """A deployment that went live on a target: its own ``url`` and, where the target has one
    (Vercel's production alias), the ``public_url`` that moves from deployment to deployment."""

    target: str
    id: str
    url: str
    commit: str
    public_url: str | None = None

    @property
    def serving(self) -> str:
        """Where the project is reached: the public URL, else the deployment's own."""
        return self.public_url or self.url


class Shipped(BaseModel):
    """What :func:`ship` did: the deployment live now, the smoke results of the new one, and
    whether it was rolled back (then ``live`` is the previous deployment again)."""

    live: Live | None
    attempted: Live | None
    smoke: list[SmokeResult]
    rolled_back: bool = False
    error: str | None = Field(default=None, description="Why the deploy itself failed, if so.")

    @property
    def ok(self) -> bool:
        return self.error is None and not self.rolled_back and all(s.ok for s in self.smoke)


class DeployTarget(Protocol):
    name: str

    def deploy(self, release: Release) -> Live:
        """Put ``release`` live; its URL."""
        ...

    def restore(self, live: Live, release: Release) -> Live:
        """Put ``live`` (an earlier deployment of ``release``) back; it is live again."""
        ...


def export(repo: Repo, commit: str, folder: Path, project_id: str, name: str) -> Release:
    """Export ``commit`` of ``repo`` into ``folder/<commit>`` (made anew each time)."""
    sha = repo.head(commit)
    where = folder / sha
    if where.exists():
        shutil.rmtree(where)
    tree = where / "tree"
    tree.mkdir(parents=True)
    tarball = where / "release.tar.gz"
    with tarball.open("wb") as out:
        write_archive(repo, sha, out, prefix="release")
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            member.name = member.name.removeprefix("release/")
        tar.extractall(tree, filter="data")  # regular files only, no path leaves ``tree``
    return Release(project_id=project_id, name=slug(name), commit=sha, tree=tree, tarball=tarball)


def ship(
    target: DeployTarget,
    release: Release,
    smoke: Callable[[Live], list[SmokeResult]],
    previous: tuple[Live, Release] | None = None,
) -> Shipped:
    """Deploy ``release`` on ``target``, smoke-test it and roll back to ``previous`` when the
    smoke test fails (see the module docstring)."""
    live: Live | None = None
    results: list[SmokeResult] = []
    error: str | None = None
    try:
        live = target.deploy(release)
    except DeployError as exc:
        error = str(exc)
    else:
        results = smoke(live)
        if results and all(r.ok for r in results):
            return Shipped(live=live, attempted=live, smoke=results)
    if previous is None:
        return Shipped(live=None, attempted=live, smoke=results, error=error)
    restored = target.restore(*previous)
    return Shipped(live=restored, attempted=live, smoke=results, rolled_back=True, error=error)
