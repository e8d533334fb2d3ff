"""A fake Gitea: the ``/api/v1`` endpoints vitco's ``GiteaHost`` uses and git's smart HTTP.

Gitea's API follows GitHub's shapes (https://docs.gitea.com/api/), so this is the fake GitHub
with Gitea's differences: the API lives under ``/api/v1`` and takes ``Authorization: token
<t>``; a repository that exists is ``409 Conflict`` (``{"message": "The repository with the same
name already exists."}``); ``GET /repos/{o}/{r}/pulls`` takes ``state``, ``page`` and
``limit`` (no ``head`` filter); a pull request has ``merged`` (bool), ``merged_at`` and
``merge_commit_sha``; ``POST /repos/{o}/{r}/pulls/{n}/merge`` takes ``{"Do": "merge"}`` and
answers 200 with an empty body (405 when it is merged already or cannot be merged). A push
needs HTTP Basic with the token owner's login and the token as password.
"""

from __future__ import annotations

import base64

from tests.fakes.github_server import FakeGitHub
from tests.fakes.vendor_http import Answer, Call, Raw, Route, route

API = "/api/v1"


class FakeGitea(FakeGitHub):
    vendor = "gitea"

    def routes(self) -> list[Route]:
        repo = API + r"/repos/([^/]+)/([^/]+)"
        return [
            route("GET", API + r"/user", self.user),
            route("POST", API + r"/user/repos", self.create_repo),
            route("POST", API + r"/orgs/([^/]+)/repos", self.create_org_repo),
            route("GET", repo, self.get_repo),
            route("GET", repo + r"/pulls", self.list_pulls),
            route("POST", repo + r"/pulls", self.create_pull),
            route("GET", repo + r"/pulls/(\d+)", self.get_pull),
            route("POST", repo + r"/pulls/(\d+)/merge", self.merge_gitea),
            route("POST", repo + r"/issues/(\d+)/comments", self.comment),
        ]

    miss_reads = 0
    """How many next ``GET /repos/{o}/{r}`` answer 404 whatever exists (a read racing a
    create elsewhere: the create that follows meets its 409)."""

    def get_repo(self, call: Call, owner: str, name: str) -> Answer:
        if self.miss_reads > 0:
            self.miss_reads -= 1
            return 404, {"message": "Not Found"}
        return super().get_repo(call, owner, name)

    def _authed(self, call: Call) -> bool:
        return call.headers.get("authorization", "") == f"token {self.token}"

    def dispatch(self, call: Call) -> Answer:
        if ".git/" in call.path:
            return self.git(call)
        if not self._authed(call):
            return 401, {"message": "token is required"}
        return super(FakeGitHub, self).dispatch(call)

    def _create(self, owner: str, call: Call) -> Answer:
        if f"{owner}/{call.json().get('name', '')}" in self.repos:
            return 409, {"message": "The repository with the same name already exists."}
        answer = super()._create(owner, call)
        assert not isinstance(answer, Raw)
        status, repo = answer
        if status == 201:
            assert isinstance(repo, dict)
            repo["clone_url"] = f"{self.url}/{repo['full_name']}.git"
        return status, repo

    def list_pulls(self, call: Call, owner: str, name: str) -> Answer:
        full = f"{owner}/{name}"
        if full not in self.repos:
            return 404, {"message": "Not Found"}
        state = call.arg("state", "open")
        page, limit = int(call.arg("page") or 1), min(int(call.arg("limit") or 30), 50)
        pulls = [p for p in self.pulls[full] if state == "all" or p["state"] == state]
        return 200, pulls[(page - 1) * limit : page * limit]

    def create_pull(self, call: Call, owner: str, name: str) -> Answer:
        answer = super().create_pull(call, owner, name)
        assert not isinstance(answer, Raw)
        status, pull = answer
        if status == 201:
            assert isinstance(pull, dict)
            pull["merged"] = False
        return status, pull

    def merge_gitea(self, call: Call, owner: str, name: str, number: str) -> Answer:
        if call.json().get("Do") not in ("merge", "rebase", "squash"):
            return 422, {"message": "[Do]: Required"}
        merged = super().merge_pull(call, owner, name, number)
        assert not isinstance(merged, Raw)
        status, answer = merged
        if status != 200:
            return status, answer
        pull = self._pull(f"{owner}/{name}", number)
        assert pull is not None
        pull["merged"] = True
        return Raw(200, b"", {})

    def git(self, call: Call) -> Answer:
        """Git over HTTP with Basic auth: the token owner's login, the token as password."""
        auth = call.headers.get("authorization", "")
        if auth.startswith("Basic "):
            login, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            if login != self.login or password != self.token:
                return Raw(401, b"", {"WWW-Authenticate": 'Basic realm="Gitea"'})
        return super().git(call)
