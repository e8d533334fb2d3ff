"""The permission matrix over real HTTP: every role x every endpoint answers as
``vitco.api.permissions.MATRIX`` says (403 when the role may not, the endpoint's own answer
when it may), every endpoint answers 401 without a key, and docs/api.md shows the matrix."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.api.server import Server
from vitco.api.app import check_matrix, routes
from vitco.api.permissions import MATRIX, ROLES, markdown
from vitco.store.deployments import DeploymentStore

DOCS = Path(__file__).parents[2] / "docs" / "api.md"

# What an allowed caller gets: reads answer 200; writes are sent a body that fails
# validation (422, after authorization) or target a run in a state that refuses them (409),
# so that the matrix is walked without starting anything.
ALLOWED = {
    "POST /v1/projects": 422,
    "POST /v1/projects/{project_id}/runs": 422,
    "POST /v1/runs/{run_id}/cancel": 409,
    "POST /v1/runs/{run_id}/resume": 409,
    "POST /v1/runs/{run_id}/approve": 409,
    "POST /v1/runs/{run_id}/reject": 409,
    "POST /v1/keys": 422,
    "POST /v1/users": 422,
    "POST /v1/runs/{run_id}/fork": 422,
    "GET /v1/runs/{run_id}/repo": 409,  # the fixture's project has no repository
    "GET /v1/runs/{run_id}/mail": 404,  # nor a delivery mail
    "GET /v1/runs/{run_id}/mails/{n}": 404,  # nor any mail
    "PUT /v1/projects/{project_id}/budget": 422,
    "PUT /v1/hooks/{source}/secret": 422,
    "DELETE /v1/hooks/{source}/secret": 404,  # no secret set: nothing deleted
    "POST /v1/webhooks": 422,
}
BAD_BODY = {"unknown_field": True}


def _fixtures(server: Server) -> dict[str, str]:
    """Ids of rows of the tenant ``acme`` for the endpoints' path parameters."""
    store, access = server.app.state.vitco.store, server.access
    server.key("acme", "admin")
    project = store.create_project("p", "/nowhere", tenant_id="acme")
    brief = store.create_brief(project.id, "b.md", "# p")
    run = store.create_run(project.id, brief.id, "m", "deliver-project")
    store.update_run(run.id, status="delivered")
    user = access.create_user("acme", "u@example.com", "viewer")
    victim = access.add_key("acme", prefix="000000000000", hashed="x", role="viewer")
    hook = server.app.state.vitco.hooks.add_webhook("acme", "https://example.com/h", ["*"], "s")
    deployment = DeploymentStore(store.sessions).save(
        project.id, run.id, port=1, root="/nowhere", toolchain="python-service", plan=None
    )  # made after the server started: no app, stopping it only marks it
    return {
        "project_id": project.id, "run_id": run.id, "user_id": user.id, "key_id": victim.id,
        "source": "stripe", "webhook_id": hook.id, "deployment_id": deployment.id, "n": "1",
    }  # fmt: skip


def test_every_role_gets_what_the_matrix_says_on_every_endpoint(server: Server) -> None:
    ids = _fixtures(server)
    clients = {role: server.client(server.key("acme", role)) for role in ROLES}
    anonymous = server.client()
    seen = []
    for key, roles in MATRIX.items():
        method, template = key.split(" ", 1)
        path = template.format(**ids)
        body = BAD_BODY if method in ("POST", "PUT") and ALLOWED.get(key) == 422 else None
        assert anonymous.request(method, path, json=body).status_code == 401, key
        for role, client in clients.items():
            answer = client.request(method, path, json=body)
            expected = ALLOWED.get(key, 200) if role in roles else 403
            assert answer.status_code == expected, (key, role, answer.text)
            assert "error" in answer.json() if expected >= 400 else True
            seen.append((key, role))
    assert len(seen) == len(MATRIX) * len(ROLES)


def test_the_matrix_is_every_endpoint_and_nothing_else(server: Server) -> None:
    assert sorted(routes(server.app)) == sorted(MATRIX)
    extra = FastAPI()
    extra.include_router(server.app.router)

    @extra.get("/v1/unlisted")
    def unlisted() -> None: ...

    with pytest.raises(RuntimeError, match="unlisted"):
        check_matrix(extra)


def test_the_docs_show_the_matrix() -> None:
    assert markdown() in DOCS.read_text()
