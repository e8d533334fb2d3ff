"""A fake Vercel: the REST endpoints ``VercelTarget`` uses, and the deployed sites themselves.

``POST /v13/deployments`` takes inline files (``file``, ``data``, ``encoding: base64``) and
answers Vercel's deployment object (``id``, ``url``, ``readyState: QUEUED``, ``name``);
``GET /v13/deployments/{id}`` moves it on, one state a read (``BUILDING``, then ``READY``, when
the production alias moves to it and ``alias`` lists it), or to ``ERROR`` when the release holds
a file named ``VERCEL_FAIL``; ``POST /v10/projects/{name}/promote/{id}`` moves the production
alias back to an earlier deployment. Errors are ``{"error": {"code", "message"}}`` (403
``forbidden`` for a bad token, 404 ``not_found``, 400 ``bad_request``).

Sites are served over plain HTTP on the same port: a deployment at ``/_sites/<id>/...`` (its
``url``), a project's production alias at ``/_prod/<name>/...``.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any

from tests.fakes.vendor_http import Answer, Call, FakeHTTP, Raw, Route, route


def _error(status: int, code: str, message: str) -> Answer:
    return status, {"error": {"code": code, "message": message}}


class FakeVercel(FakeHTTP):
    vendor = "vercel"

    def __init__(self, token: str) -> None:
        self.token = token
        self.deployments: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, bytes]] = {}
        self.production: dict[str, str] = {}
        self._ids = itertools.count(1)
        super().__init__()

    def routes(self) -> list[Route]:
        return [
            route("POST", r"/v13/deployments", self.create),
            route("GET", r"/v13/deployments/([^/]+)", self.get),
            route("POST", r"/v10/projects/([^/]+)/promote/([^/]+)", self.promote),
            route("GET", r"/_sites/([^/]+)/?(.*)", self.site),
            route("GET", r"/_prod/([^/]+)/?(.*)", self.prod),
        ]

    def dispatch(self, call: Call) -> Answer:
        public = call.path.startswith(("/_sites/", "/_prod/"))
        if not public and call.headers.get("authorization") != f"Bearer {self.token}":
            return _error(403, "forbidden", "Not authorized")
        return super().dispatch(call)

    def _host(self) -> str:
        return self.url.removeprefix("http://")

    def create(self, call: Call) -> Answer:
        body = call.json()
        name, files = body.get("name"), body.get("files")
        if not isinstance(name, str) or not name or not isinstance(files, list):
            return _error(400, "bad_request", "Invalid request: `name` and `files` are required")
        decoded = {}
        for entry in files:
            if entry.get("encoding") != "base64" or ".." in entry["file"].split("/"):
                return _error(400, "bad_request", f"Invalid file {entry.get('file')!r}")
            decoded[entry["file"]] = base64.b64decode(entry["data"])
        deployment_id = f"dpl_{next(self._ids):05d}"
        self.files[deployment_id] = decoded
        self.deployments[deployment_id] = {
            "id": deployment_id, "name": name, "readyState": "QUEUED",
            "url": f"{self._host()}/_sites/{deployment_id}", "alias": [],
            "target": body.get("target"), "meta": body.get("meta", {}),
        }  # fmt: skip
        return 200, self.deployments[deployment_id]

    def get(self, call: Call, deployment_id: str) -> Answer:
        deployment = self.deployments.get(deployment_id)
        if deployment is None:
            return _error(404, "not_found", "Deployment not found")
        state = deployment["readyState"]
        if state == "QUEUED":
            deployment["readyState"] = "BUILDING"
        elif state == "BUILDING":
            if "VERCEL_FAIL" in self.files[deployment_id]:
                deployment.update(readyState="ERROR", errorMessage="Build failed: VERCEL_FAIL")
            else:
                deployment["readyState"] = "READY"
                self.production[deployment["name"]] = deployment_id
                deployment["alias"] = [f"{self._host()}/_prod/{deployment['name']}"]
        return 200, deployment

    def promote(self, call: Call, name: str, deployment_id: str) -> Answer:
        deployment = self.deployments.get(deployment_id)
        if deployment is None or deployment["name"] != name:
            return _error(404, "not_found", "Deployment not found")
        if deployment["readyState"] != "READY":
            return _error(400, "bad_request", "Only READY deployments can be promoted")
        self.production[name] = deployment_id
        return 201, {}

    def _serve(self, deployment_id: str | None, path: str) -> Answer:
        files = self.files.get(deployment_id or "", {})
        data = files.get(path or "index.html")
        if data is None:
            return Raw(404, b"not found", {"Content-Type": "text/plain"})
        return Raw(200, data, {"Content-Type": "text/plain"})

    def site(self, call: Call, deployment_id: str, path: str) -> Answer:
        return self._serve(deployment_id, path)

    def prod(self, call: Call, name: str, path: str) -> Answer:
        return self._serve(self.production.get(name), path)
