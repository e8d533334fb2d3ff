"""The git host: where a project's repository is published, one review per task.

A ``GitHost`` holds repositories by name. A run pushes its task branches to it, opens a review
(a merge request: GitHub's pull request, a recorded review in a local bare repository) with the
reviewer's verdict as its body, and merges it; the deliver step comments on the issue the run
came from. Every call is idempotent: a step resumed after a crash finds the repository, the
review and the merge it already made.

Names are hostile (a project's title, a model's task id, an issue's repository): a repository
name is one path segment of letters, digits, ``.``, ``_`` and ``-`` (no ``..``, no leading
``.`` or ``-``), a ref is a branch or tag ``git check-ref-format`` accepts that starts with no
``-``; anything else is ``UnsafeName`` before it reaches a path, a URL or git's command line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, Field

from vitco.integrations.git.exceptions import UnsafeName
from vitco.integrations.git.repo import Repo

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")
_REF = re.compile(r"refs/(heads|tags)/[A-Za-z0-9._/-]{1,200}")


class HostedRepo(BaseModel):
    """A repository on the host: its name, where to clone it from (never with a credential)
    and where a person looks at it."""

    name: str
    clone_url: str
    web_url: str


class Review(BaseModel):
    """A merge request of one branch into another, with the reviewer's verdict as its body."""

    number: int
    branch: str
    base: str
    title: str
    body: str
    url: str
    merged: bool = False
    merge_sha: str | None = None


class Comment(BaseModel):
    id: int
    url: str
    body: str = Field(repr=False)


class GitHost(Protocol):
    """Where projects are published (``LocalGitHost``, ``GitHubHost``)."""

    def ensure_repo(self, name: str, description: str = "") -> HostedRepo:
        """The repository ``name``, created if it does not exist yet."""
        ...

    def push(self, repo: Repo, name: str, refs: Sequence[str]) -> None:
        """Push ``refs`` (``refs/heads/...``, ``refs/tags/...``) of ``repo`` to ``name``;
        never forced: a ref the host moved elsewhere is an error, not overwritten."""
        ...

    def open_review(self, name: str, *, branch: str, base: str, title: str, body: str) -> Review:
        """The open or merged review of ``branch`` into ``base``, opened if there is none."""
        ...

    def merge_review(self, name: str, number: int) -> Review:
        """Merge review ``number`` (a merged one is returned as it is)."""
        ...

    def comment(self, name: str, issue: int, body: str) -> Comment:
        """Comment on issue ``issue`` of repository ``name`` (``owner/repo`` on GitHub)."""
        ...


def check_name(name: str) -> str:
    """``name`` if it is a safe repository name (module docstring), else ``UnsafeName``."""
    if not _NAME.fullmatch(name) or ".." in name or name.lower().endswith(".git"):
        raise UnsafeName(
            "repository name",
            name,
            "use 1 to 100 letters, digits, '.', '_' or '-', not starting with '.' or '-', "
            "without '..' or a '.git' ending",
        )
    return name


def check_full_name(full_name: str) -> tuple[str, str]:
    """``owner/repo`` split, each part a safe name."""
    owner, sep, name = full_name.partition("/")
    if not sep:
        raise UnsafeName("repository", full_name, "expected owner/name")
    return check_name(owner), check_name(name)


def check_ref(ref: str) -> str:
    """``ref`` if it is a full branch or tag name git accepts, else ``UnsafeName``.

    Within ``_REF``'s alphabet (no space, control character, ``~^:?*[\\`` or ``@``) what
    ``git check-ref-format`` still refuses is, by its manual: a component that is empty,
    begins with ``.`` or ends with ``.lock``, ``..`` anywhere, and a name that ends with
    ``.``; so these are checked here, not by a git process (20 of the 171 git processes a
    demo run started, each a fork of the worker; ``tests/integrations/test_git_refs.py``
    holds the two to the same answers)."""
    ok = (
        _REF.fullmatch(ref) is not None
        and "/-" not in ref
        and ".." not in ref
        and not ref.endswith(".")
        and all(p and not p.startswith(".") and not p.endswith(".lock") for p in ref.split("/"))
    )
    if not ok:
        raise UnsafeName("ref", ref, "not a refs/heads/ or refs/tags/ name git accepts")
    return ref


def branch_ref(branch: str) -> str:
    return check_ref(f"refs/heads/{branch}")


def slug(text: str, fallback: str = "project") -> str:
    """A repository name made from free text (a project's title): lower case, runs of other
    characters as one ``-``, at most 60 characters."""
    out = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-")
    return out or fallback
