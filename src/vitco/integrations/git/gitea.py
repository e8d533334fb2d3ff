"""Gitea (and Forgejo) as the git host: its REST API (``/api/v1``) over the ``httpx.Client``
passed in, git over HTTP(S).

Gitea's API is modelled on GitHub's, so this is :class:`GitHubHost` with Gitea's differences
(https://docs.gitea.com/api/): the token goes as ``Authorization: token <t>``; a repository
made twice is ``409 Conflict``; pull requests are listed (``GET /repos/{o}/{r}/pulls?state=all``,
paged) and matched by head and base here, since Gitea has no ``head=`` filter; a merge is
``POST /repos/{o}/{r}/pulls/{n}/merge`` with ``{"Do": "merge"}`` and answers no commit, so the
merged pull request is read again for ``merge_commit_sha``; a push authenticates with HTTP Basic,
the token owner's login and the token as its password. Endpoints used: ``GET /user``,
``GET /repos/{o}/{r}``, ``POST /user/repos`` or ``POST /orgs/{org}/repos``,
``GET|POST /repos/{o}/{r}/pulls``, ``GET /repos/{o}/{r}/pulls/{n}``,
``POST /repos/{o}/{r}/pulls/{n}/merge``, ``POST /repos/{o}/{r}/issues/{n}/comments``.

What GitHubHost promises about the token holds here too: it never enters a URL, git's config
or a command line, and the push URL is built from the configured git base and checked names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

from vitco.integrations.git.github import GitHubHost
from vitco.integrations.git.host import Review, check_name

HOST = "Gitea"
PAGE = 50  # Gitea's default maximum page size


class GiteaHost(GitHubHost):
    """Repositories of ``owner`` (an organization when ``org``, else the token's user) on the
    Gitea at ``url`` (the API is ``<url>/api/v1``, git is ``<url>/<owner>/<name>.git``)."""

    host = HOST
    description_max = 255
    exists_status = 409
    create_fields: ClassVar[Mapping[str, Any]] = {"default_branch": "main"}

    def __init__(
        self, client: httpx.Client, token: SecretStr, *, url: str, org: str | None = None
    ) -> None:
        url = url.rstrip("/")
        super().__init__(client, token, api_url=f"{url}/api/v1", git_url=url, org=org)
        self._login: str | None = None

    def _headers(self) -> dict[str, str]:
        return {
            "Accept": "application/json",
            "Authorization": f"token {self.token.get_secret_value()}",
        }

    @property
    def login(self) -> str:
        """The token's user (who a push authenticates as)."""
        if self._login is None:
            user = self._ok(self._call("GET", "/user", "read the user"), "read the user")
            self._login = check_name(str(user["login"]))
        return self._login

    @property
    def owner(self) -> str:
        return self.org or self.login

    def _basic_user(self) -> str:
        return self.login

    def _find(self, name: str, branch: str, base: str, action: str) -> dict[str, Any] | None:
        path = f"{self._repo_path(name)}/pulls"
        for page in range(1, 1000):
            params = {"state": "all", "page": page, "limit": PAGE}
            pulls = self._ok(self._call("GET", path, action, params=params), action)
            for pull in pulls:
                if pull["head"]["ref"] == branch and pull["base"]["ref"] == base:
                    return dict(pull)
            if len(pulls) < PAGE:
                return None
        return None

    def _merge(self, path: str, action: str, review: Review) -> Review:
        merged = self._call("POST", f"{path}/merge", action, json={"Do": "merge"})
        if merged.status_code >= 400:
            self._ok(merged, action)
        return self._review(self._ok(self._call("GET", path, action), action))
