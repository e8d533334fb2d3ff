"""GitHub as the git host: REST v3 over the ``httpx.Client`` passed in, git over HTTPS.

Endpoints used (https://docs.github.com/en/rest): ``GET /user``, ``GET /repos/{owner}/{repo}``,
``POST /user/repos`` or ``POST /orgs/{org}/repos``, ``GET|POST /repos/{owner}/{repo}/pulls``,
``GET /repos/{owner}/{repo}/pulls/{n}``, ``PUT /repos/{owner}/{repo}/pulls/{n}/merge``,
``POST /repos/{owner}/{repo}/issues/{n}/comments``. The API's base URL and the git base URL come
from the settings, so tests point both at the in-repo fake.

The token never enters a URL, git's config or a command line: REST calls send it as
``Authorization: Bearer``; ``git push`` gets it as an ``http.extraHeader`` through git's
``GIT_CONFIG_COUNT`` environment variables of that one process (readable only by vitco's own
user), in an environment with nothing else of vitco's (no ``GIT_TRACE``, no user or system
config, no prompt). The push URL is built from the configured git base and the checked names,
never taken from an answer of the API, so a hostile or broken answer cannot send the token
elsewhere. Error bodies are reduced to GitHub's ``message`` field.
"""

from __future__ import annotations

import base64
import contextlib
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

from vitco.integrations.git.exceptions import GitError, HostRefused
from vitco.integrations.git.host import (
    Comment,
    HostedRepo,
    Review,
    branch_ref,
    check_full_name,
    check_name,
    check_ref,
)
from vitco.integrations.git.repo import GUARDS, Repo

API_VERSION = "2022-11-28"
HOST = "GitHub"
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


class GitHubHost:
    """Repositories of ``owner`` (an organization when ``org``, else the token's user)."""

    host = HOST  # the service's name in errors (``GiteaHost`` speaks a dialect of this API)
    # how the dialects differ in making a repository: the description's length, the answer to
    # a name already taken, and fields of their own
    description_max = 300
    exists_status = 422
    create_fields: ClassVar[Mapping[str, Any]] = {}

    def __init__(
        self,
        client: httpx.Client,
        token: SecretStr,
        *,
        api_url: str = "https://api.github.com",
        git_url: str = "https://github.com",
        org: str | None = None,
    ) -> None:
        self.client = client
        self.token = token
        self.api_url = api_url.rstrip("/")
        self.git_url = git_url.rstrip("/")
        self.org = check_name(org) if org else None
        self._owner: str | None = self.org

    # REST -------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "Authorization": f"Bearer {self.token.get_secret_value()}",
        }

    def _call(self, method: str, path: str, action: str, **kw: Any) -> httpx.Response:
        headers = self._headers()
        try:
            response = self.client.request(method, self.api_url + path, headers=headers, **kw)
        except httpx.HTTPError as exc:
            raise HostRefused(self.host, action, 0, type(exc).__name__) from None
        return response

    def _ok(self, response: httpx.Response, action: str) -> Any:
        if response.status_code >= 400:
            message = ""
            with contextlib.suppress(ValueError, AttributeError):
                message = str(response.json().get("message", ""))
            reason = message or response.reason_phrase
            raise HostRefused(self.host, action, response.status_code, reason)
        return response.json()

    @property
    def owner(self) -> str:
        """The account repositories are made under (the organization, else the token's user)."""
        if self._owner is None:
            user = self._ok(self._call("GET", "/user", "read the user"), "read the user")
            self._owner = check_name(str(user["login"]))
        return self._owner

    def _repo_path(self, name: str) -> str:
        return f"/repos/{self.owner}/{check_name(name)}"

    def _hosted(self, name: str, data: dict[str, Any]) -> HostedRepo:
        return HostedRepo(
            name=name,
            clone_url=f"{self.git_url}/{self.owner}/{name}.git",
            web_url=str(data.get("html_url") or f"{self.git_url}/{self.owner}/{name}"),
        )

    def ensure_repo(self, name: str, description: str = "") -> HostedRepo:
        path = self._repo_path(name)
        found = self._call("GET", path, f"read {name}")
        if found.status_code == 200:
            return self._hosted(name, found.json())
        if found.status_code != 404:
            self._ok(found, f"read {name}")
        create = f"/orgs/{self.org}/repos" if self.org else "/user/repos"
        body: dict[str, Any] = {"name": name, "description": description[: self.description_max]}
        body |= {"private": True, **self.create_fields}
        made = self._call("POST", create, f"create {name}", json=body)
        if made.status_code == self.exists_status:  # made meanwhile (a retried step): read it
            return self._hosted(name, self._ok(self._call("GET", path, f"read {name}"), name))
        return self._hosted(name, self._ok(made, f"create {name}"))

    def push(self, repo: Repo, name: str, refs: Sequence[str]) -> None:
        url = f"{self.git_url}/{self.owner}/{check_name(name)}.git"
        specs = [f"{check_ref(r)}:{r}" for r in refs]
        if not specs:
            return
        secret = self.token.get_secret_value()
        basic = base64.b64encode(f"{self._basic_user()}:{secret}".encode())
        env = {
            "PATH": SAFE_PATH,
            "HOME": "/nonexistent",  # no user config of anyone's
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_CONFIG_COUNT": "2",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic.decode()}",
            "GIT_CONFIG_KEY_1": "credential.helper",
            "GIT_CONFIG_VALUE_1": "",
        }
        argv = ["push", "-q", "--no-verify", url, *specs]
        proc = subprocess.run(
            ["git", *GUARDS, *argv],
            cwd=repo.path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if proc.returncode != 0:
            raise GitError(argv, proc.stderr, proc.returncode)

    def _basic_user(self) -> str:
        """Who a push authenticates as, the token being the password."""
        return "x-access-token"

    # reviews ----------------------------------------------------------------------------------

    def _review(self, data: dict[str, Any]) -> Review:
        return Review(
            number=int(data["number"]),
            branch=str(data["head"]["ref"]),
            base=str(data["base"]["ref"]),
            title=str(data.get("title") or ""),
            body=str(data.get("body") or ""),
            url=str(data.get("html_url") or ""),
            merged=bool(data.get("merged_at") or data.get("merged")),
            merge_sha=data.get("merge_commit_sha") if data.get("merged_at") else None,
        )

    def _find(self, name: str, branch: str, base: str, action: str) -> dict[str, Any] | None:
        """The pull request of ``branch`` into ``base``, if one was opened (any state)."""
        path = f"{self._repo_path(name)}/pulls"
        params = {"head": f"{self.owner}:{branch}", "base": base, "state": "all"}
        for pull in self._ok(self._call("GET", path, action, params=params), action):
            return dict(pull)
        return None

    def open_review(self, name: str, *, branch: str, base: str, title: str, body: str) -> Review:
        branch_ref(branch), branch_ref(base)
        action = f"open a pull request of {branch}"
        found = self._find(name, branch, base, action)
        if found is not None:  # opened before (a retried step)
            return self._review(found)
        payload = {"title": title[:250], "head": branch, "base": base, "body": body[:60000]}
        path = f"{self._repo_path(name)}/pulls"
        return self._review(self._ok(self._call("POST", path, action, json=payload), action))

    def merge_review(self, name: str, number: int) -> Review:
        path = f"{self._repo_path(name)}/pulls/{int(number)}"
        action = f"merge pull request #{number}"
        review = self._review(self._ok(self._call("GET", path, action), action))
        if review.merged:
            return review
        return self._merge(path, action, review)

    def _merge(self, path: str, action: str, review: Review) -> Review:
        """Merge the open pull request at ``path``: the merged review."""
        body = {"merge_method": "merge"}
        merged = self._ok(self._call("PUT", f"{path}/merge", action, json=body), action)
        return review.model_copy(update={"merged": True, "merge_sha": merged.get("sha")})

    def comment(self, name: str, issue: int, body: str) -> Comment:
        owner, repo = check_full_name(name) if "/" in name else (self.owner, check_name(name))
        path = f"/repos/{owner}/{repo}/issues/{int(issue)}/comments"
        action = f"comment on {owner}/{repo}#{issue}"
        data = self._ok(self._call("POST", path, action, json={"body": body[:60000]}), action)
        return Comment(id=int(data["id"]), url=str(data.get("html_url") or ""), body=body)
