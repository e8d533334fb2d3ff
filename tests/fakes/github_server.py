"""A fake GitHub: the REST v3 endpoints vitco's ``GitHubHost`` uses and git's smart HTTP.

REST answers carry the fields GitHub documents for them (repository: ``name``, ``full_name``,
``html_url``, ``clone_url``, ``owner.login``; pull request: ``number``, ``state``, ``title``,
``body``, ``head.ref``, ``base.ref``, ``html_url``, ``merged_at``, ``merge_commit_sha``; merge:
``sha``, ``merged``, ``message``; issue comment: ``id``, ``html_url``, ``body``) and GitHub's
errors (401 ``Bad credentials``, 404 ``Not Found``, 422 ``Validation Failed``, 405 when a pull
request is not mergeable). Git is served by git's own ``git http-backend`` CGI over bare
repositories in ``root``; a push needs HTTP Basic auth whose password is the token, as GitHub
asks of a token. Merging a pull request really merges in the bare repository.
"""

from __future__ import annotations

import base64
import itertools
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.fakes.vendor_http import Answer, Call, FakeHTTP, Raw, Route, route

GIT_BACKEND = "/usr/lib/git-core/git-http-backend"


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-c", "user.name=GitHub", "-c", "user.email=noreply@github.com", *args],
        cwd=cwd, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


class FakeGitHub(FakeHTTP):
    vendor = "github"

    def __init__(self, root: Path, token: str, login: str = "octo") -> None:
        self.root = root
        self.token = token
        self.login = login
        self.repos: dict[str, dict[str, Any]] = {}
        self.pulls: dict[str, list[dict[str, Any]]] = {}
        self.comments: list[dict[str, Any]] = []
        self._ids = itertools.count(1000)
        super().__init__()

    def routes(self) -> list[Route]:
        repo = r"/repos/([^/]+)/([^/]+)"
        return [
            route("GET", r"/user", self.user),
            route("POST", r"/user/repos", self.create_repo),
            route("POST", r"/orgs/([^/]+)/repos", self.create_org_repo),
            route("GET", repo, self.get_repo),
            route("GET", repo + r"/pulls", self.list_pulls),
            route("POST", repo + r"/pulls", self.create_pull),
            route("GET", repo + r"/pulls/(\d+)", self.get_pull),
            route("PUT", repo + r"/pulls/(\d+)/merge", self.merge_pull),
            route("POST", repo + r"/issues/(\d+)/comments", self.comment),
        ]

    # auth -------------------------------------------------------------------------------------

    def _authed(self, call: Call) -> bool:
        given = call.headers.get("authorization", "")
        return given in (f"Bearer {self.token}", f"token {self.token}")

    def dispatch(self, call: Call) -> Answer:
        if ".git/" in call.path:
            return self.git(call)
        if not self._authed(call):
            return 401, {"message": "Bad credentials"}
        return super().dispatch(call)

    # repositories -----------------------------------------------------------------------------

    def user(self, call: Call) -> Answer:
        return 200, {"login": self.login, "id": 1, "type": "User"}

    def _repo_json(self, full: str) -> dict[str, Any]:
        return self.repos[full]

    def _create(self, owner: str, call: Call) -> Answer:
        name = str(call.json().get("name", ""))
        full = f"{owner}/{name}"
        if not name or "/" in name or ".." in name:
            return 422, {"message": "Validation Failed", "errors": [{"field": "name"}]}
        if full in self.repos:
            taken = [{"message": "name already exists on this account"}]
            return 422, {"message": "Repository creation failed.", "errors": taken}
        bare = self.root / owner / f"{name}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        _git(self.root, "init", "-q", "--bare", "-b", "main", str(bare))
        _git(bare, "config", "http.receivepack", "true")
        self.repos[full] = {
            "id": next(self._ids), "name": name, "full_name": full,
            "owner": {"login": owner}, "private": bool(call.json().get("private")),
            "html_url": f"{self.url}/{full}", "clone_url": f"{self.url}/{full}.git",
            "default_branch": "main", "description": call.json().get("description"),
        }  # fmt: skip
        self.pulls[full] = []
        return 201, self.repos[full]

    def create_repo(self, call: Call) -> Answer:
        return self._create(self.login, call)

    def create_org_repo(self, call: Call, org: str) -> Answer:
        return self._create(org, call)

    def get_repo(self, call: Call, owner: str, name: str) -> Answer:
        full = f"{owner}/{name}"
        return (200, self.repos[full]) if full in self.repos else (404, {"message": "Not Found"})

    def bare(self, full: str) -> Path:
        owner, name = full.split("/")
        return self.root / owner / f"{name}.git"

    def head(self, full: str, branch: str) -> str | None:
        proc = _git(self.bare(full), "rev-parse", "-q", "--verify", f"refs/heads/{branch}")
        return proc.stdout.strip() or None

    # pull requests ----------------------------------------------------------------------------

    def list_pulls(self, call: Call, owner: str, name: str) -> Answer:
        full = f"{owner}/{name}"
        if full not in self.repos:
            return 404, {"message": "Not Found"}
        pulls = self.pulls[full]
        head, base, state = call.arg("head"), call.arg("base"), call.arg("state", "open")
        if head:
            pulls = [p for p in pulls if f"{owner}:{p['head']['ref']}" == head]
        if base:
            pulls = [p for p in pulls if p["base"]["ref"] == base]
        if state != "all":
            pulls = [p for p in pulls if p["state"] == state]
        return 200, pulls

    def create_pull(self, call: Call, owner: str, name: str) -> Answer:
        full = f"{owner}/{name}"
        if full not in self.repos:
            return 404, {"message": "Not Found"}
        data = call.json()
        head, base = self.head(full, data["head"]), self.head(full, data["base"])
        if head is None or base is None:
            return 422, {"message": "Validation Failed", "errors": [{"field": "head"}]}
        ahead = _git(self.bare(full), "rev-list", "--count", f"{base}..{head}").stdout.strip()
        if ahead == "0":
            return 422, {"message": "Validation Failed", "errors": [
                {"message": f"No commits between {data['base']} and {data['head']}"}]}  # fmt: skip
        number = len(self.pulls[full]) + 1
        pull = {
            "number": number, "state": "open", "title": data["title"], "body": data.get("body"),
            "head": {"ref": data["head"], "sha": head}, "base": {"ref": data["base"]},
            "html_url": f"{self.url}/{full}/pull/{number}", "merged_at": None,
            "merge_commit_sha": None,
        }  # fmt: skip
        self.pulls[full].append(pull)
        return 201, pull

    def _pull(self, full: str, number: str) -> dict[str, Any] | None:
        pulls = self.pulls.get(full, [])
        return pulls[int(number) - 1] if 0 < int(number) <= len(pulls) else None

    def get_pull(self, call: Call, owner: str, name: str, number: str) -> Answer:
        pull = self._pull(f"{owner}/{name}", number)
        return (200, pull) if pull else (404, {"message": "Not Found"})

    def merge_pull(self, call: Call, owner: str, name: str, number: str) -> Answer:
        full = f"{owner}/{name}"
        pull = self._pull(full, number)
        if pull is None:
            return 404, {"message": "Not Found"}
        if pull["merged_at"]:
            return 405, {"message": "Pull Request is not mergeable"}
        bare, base_ref = self.bare(full), f"refs/heads/{pull['base']['ref']}"
        base, head = self.head(full, pull["base"]["ref"]), self.head(full, pull["head"]["ref"])
        assert base and head
        tree = _git(bare, "merge-tree", "--write-tree", base, head)
        if tree.returncode != 0:
            return 405, {"message": "Pull Request is not mergeable"}
        message = f"Merge pull request #{number} from {owner}/{pull['head']['ref']}"
        sha = _git(bare, "commit-tree", tree.stdout.split()[0], "-p", base, "-p", head,
                   "-m", message).stdout.strip()  # fmt: skip
        _git(bare, "update-ref", base_ref, sha, base)
        pull.update(state="closed", merged_at=time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    merge_commit_sha=sha)  # fmt: skip
        return 200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}

    def comment(self, call: Call, owner: str, name: str, number: str) -> Answer:
        cid = next(self._ids)
        body = call.json()["body"]
        full = f"{owner}/{name}"
        self.comments.append({"repo": full, "issue": int(number), "id": cid, "body": body})
        url = f"{self.url}/{full}/issues/{number}#issuecomment-{cid}"
        return 201, {"id": cid, "html_url": url, "body": body}

    # git smart HTTP ---------------------------------------------------------------------------

    def git(self, call: Call) -> Answer:
        user = None
        auth = call.headers.get("authorization", "")
        if auth.startswith("Basic "):
            _login, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            user = "token" if password == self.token else None
        if user is None:
            return Raw(401, b"", {"WWW-Authenticate": 'Basic realm="GitHub"'})
        env = {
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": call.path,
            "QUERY_STRING": "&".join(f"{k}={v[0]}" for k, v in call.query.items()),
            "REQUEST_METHOD": call.method,
            "CONTENT_TYPE": call.headers.get("content-type", ""),
            "CONTENT_LENGTH": str(len(call.body)),
            "REMOTE_USER": user,
            "REMOTE_ADDR": "127.0.0.1",
            "PATH": "/usr/bin:/bin",
        }
        if call.headers.get("content-encoding"):
            env["HTTP_CONTENT_ENCODING"] = call.headers["content-encoding"]
        proc = subprocess.run([GIT_BACKEND], input=call.body, env=env, capture_output=True,
                              check=False, timeout=120)  # fmt: skip
        head, _, body = proc.stdout.partition(b"\r\n\r\n")
        status, headers = 200, {}
        for line in head.decode().split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers[key] = value.strip()
        return Raw(status, body, headers)
