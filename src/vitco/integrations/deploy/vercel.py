"""Vercel as a deploy target: REST over the ``httpx.Client`` passed in.

Endpoints (https://vercel.com/docs/rest-api): ``POST /v13/deployments`` with the release's
files inline (``{"file", "data", "encoding": "base64"}``), ``target: "production"``;
``GET /v13/deployments/{id}`` polled until ``readyState`` is ``READY`` (``ERROR`` or
``CANCELED``: ``DeployError`` with Vercel's message), at most ``timeout_s``; putting a
previous deployment back is ``POST /v10/projects/{name}/promote/{id}`` (Vercel's instant
rollback to a deployment that was production before). ``teamId`` is sent when configured.
The token goes in ``Authorization: Bearer`` only; an error carries Vercel's ``error.message``,
never the token. Files are the release's regular files (vitco's export of a commit, no
links), at most ``MAX_FILES`` and ``MAX_BYTES`` in all. Time is passed in (``sleep``,
``clock``) so tests never wait on a wall clock they do not own.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from vitco.integrations.deploy.exceptions import DeployError
from vitco.integrations.deploy.target import Live, Release

MAX_FILES = 2_000
MAX_BYTES = 50 * 1024 * 1024
FAILED = ("ERROR", "CANCELED")


class VercelRefused(DeployError):
    """Vercel answered ``status`` to ``action`` (its message, never the token)."""

    def __init__(self, action: str, status: int, message: str) -> None:
        self.action = action
        self.status = status
        self.message = message
        super().__init__(f"Vercel: {action} failed ({status}): {message[:500]}")


def _files(tree: Path) -> list[dict[str, str]]:
    files: list[dict[str, str]] = []
    total = 0
    for path in sorted(tree.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        total += len(data)
        if len(files) >= MAX_FILES or total > MAX_BYTES:
            raise DeployError(f"the release is larger than Vercel's inline upload allows here "
                              f"({MAX_FILES} files, {MAX_BYTES >> 20} MiB)")  # fmt: skip
        name = path.relative_to(tree).as_posix()
        files.append({"file": name, "data": base64.b64encode(data).decode(), "encoding": "base64"})
    return files


class VercelTarget:
    name = "vercel"

    def __init__(
        self,
        client: httpx.Client,
        token: SecretStr,
        *,
        api_url: str = "https://api.vercel.com",
        team_id: str | None = None,
        scheme: str = "https",
        poll_s: float = 2.0,
        timeout_s: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client, self.token, self.api_url = client, token, api_url.rstrip("/")
        self.team_id, self.scheme = team_id, scheme
        self.poll_s, self.timeout_s, self.sleep, self.clock = poll_s, timeout_s, sleep, clock

    def _call(self, method: str, path: str, action: str, **kw: Any) -> Any:
        params = {"teamId": self.team_id} if self.team_id else None
        headers = {"Authorization": f"Bearer {self.token.get_secret_value()}"}
        try:
            answer = self.client.request(method, self.api_url + path, headers=headers,
                                         params=params, **kw)  # fmt: skip
        except httpx.HTTPError as exc:
            raise VercelRefused(action, 0, type(exc).__name__) from None
        if answer.status_code >= 400:
            try:
                message = str(answer.json().get("error", {}).get("message", ""))
            except (ValueError, AttributeError):
                message = ""
            raise VercelRefused(action, answer.status_code, message or answer.reason_phrase)
        return answer.json() if answer.content else {}

    def _live(self, data: dict[str, Any], commit: str) -> Live:
        aliases = [a for a in data.get("alias") or [] if isinstance(a, str)]
        url = f"{self.scheme}://{data['url']}"
        public = f"{self.scheme}://{aliases[0]}" if aliases else url
        return Live(target=self.name, id=str(data["id"]), url=url, public_url=public,
                    commit=commit)  # fmt: skip

    def deploy(self, release: Release) -> Live:
        body = {
            "name": release.name,
            "files": _files(release.tree),
            "target": "production",
            "projectSettings": {"framework": None},
            "meta": {"vitcoProject": release.project_id, "vitcoCommit": release.commit},
        }
        made = self._call("POST", "/v13/deployments", "create the deployment", json=body)
        deadline = self.clock() + self.timeout_s
        data = made
        while data.get("readyState") != "READY":
            if data.get("readyState") in FAILED:
                error = data.get("errorMessage") or data.get("readyState")
                raise DeployError(f"Vercel deployment {made['id']} failed: {error}")
            if self.clock() > deadline:
                state = data.get("readyState")
                raise DeployError(f"Vercel deployment {made['id']} was not ready within "
                                  f"{self.timeout_s:.0f}s (last state {state})")  # fmt: skip
            self.sleep(self.poll_s)
            data = self._call("GET", f"/v13/deployments/{made['id']}", "read the deployment")
        return self._live(data, release.commit)

    def restore(self, live: Live, release: Release) -> Live:
        self._call("POST", f"/v10/projects/{release.name}/promote/{live.id}",
                   "promote the previous deployment")  # fmt: skip
        data = self._call("GET", f"/v13/deployments/{live.id}", "read the deployment")
        return self._live(data, live.commit)
