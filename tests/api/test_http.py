"""vitco serve's HTTP behaviour over real HTTP: tenant isolation, keys, the rate limit, the
body limit, validation errors with field paths, ETags, the audit log and CORS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from tests.api.conftest import MakeServer
from tests.api.server import Server
from vitco.api.keys import issue
from vitco.api.limits import TokenBuckets
from vitco.api.permissions import MATRIX
from vitco.store.deployments import DeploymentStore
from vitco.store.models import utcnow


def _rows_of(server: Server, tenant: str) -> dict[str, str]:
    store, access = server.app.state.vitco.store, server.access
    project = store.create_project("secret", "/nowhere", tenant_id=tenant)
    brief = store.create_brief(project.id, "b.md", "# secret")
    run = store.create_run(project.id, brief.id, "m", "deliver-project")
    store.add_event(run.id, "run", "secret event")
    user = access.create_user(tenant, "s@example.com", "viewer")
    key = access.add_key(tenant, prefix="111111111111", hashed="x", role="viewer")
    hook = server.app.state.vitco.hooks.add_webhook(tenant, "https://example.com/", ["*"], "s")
    deployment = DeploymentStore(store.sessions).save(
        project.id, run.id, port=2, root="/nowhere", toolchain="python-service", plan=None
    )
    return {
        "project_id": project.id, "run_id": run.id, "user_id": user.id, "key_id": key.id,
        "webhook_id": hook.id, "deployment_id": deployment.id, "n": "1",
    }  # fmt: skip


# A valid body for endpoints that need one: the id, not the body, must be what is refused.
BODIES = {
    "POST /v1/runs/{run_id}/fork": {"at": "1"},
    "PUT /v1/projects/{project_id}/budget": {"budget_usd": 1},
}


def test_another_tenants_key_sees_nothing_not_even_by_guessing_ids(
    make_server: MakeServer,
) -> None:
    # two requests per endpoint with one key: past the default rate limit (tested below) once
    # the server answered fast enough
    server = make_server(api_rate_per_s=1e6, api_rate_burst=1_000_000)
    server.key("acme", "admin")
    ids = _rows_of(server, "acme")
    other = server.client(server.key("other", "admin"))
    for path in ("/v1/projects", "/v1/runs", "/v1/users", "/v1/deployments"):
        assert other.get(path).json()["items"] == [], path
    assert [k["role"] for k in other.get("/v1/keys").json()["items"]] == ["admin"]  # its own
    assert other.get("/v1/costs", params={"by": "project"}).json()["rows"] == []

    missing = {name: value[:2] + "000000000000" for name, value in ids.items()} | {"n": "1"}
    for key in MATRIX:
        method, template = key.split(" ", 1)
        if "{" not in template or "{source}" in template:  # a source is a name, not a row
            continue
        body = BODIES.get(key, {})
        theirs = other.request(method, template.format(**ids), json=body)
        nothing = other.request(method, template.format(**missing), json=body)
        assert theirs.status_code == 404, (key, theirs.text)
        assert theirs.json()["error"]["code"] == nothing.json()["error"]["code"] == "not_found"
    for query in ({"project_id": ids["project_id"]}, {"run_id": ids["run_id"]}):
        assert other.get("/v1/costs", params=query).status_code == 404
    assert server.access.get_key("acme", ids["key_id"]).revoked_at is None
    assert server.app.state.vitco.hooks.webhook("acme", ids["webhook_id"]).deleted_at is None
    assert DeploymentStore(server.access.sessions).get(ids["deployment_id"]).stopped_at is None


def test_keys_are_shown_once_refused_when_revoked_or_expired(server: Server) -> None:
    admin = server.client(server.key("acme", "admin"))
    made = admin.post("/v1/keys", json={"role": "viewer", "name": "ci"})
    assert made.status_code == 201
    key, key_id = made.json()["key"], made.json()["id"]
    assert key.startswith(f"vk_{made.json()['prefix']}_")
    listed = admin.get("/v1/keys").json()["items"]
    assert key_id in {k["id"] for k in listed} and all("key" not in k for k in listed)
    row = server.access.get_key("acme", key_id)
    assert key not in row.hash and row.hash.startswith("$argon2id$")

    viewer = server.client(key)
    me = viewer.get("/v1/me").json()
    assert me == {"tenant_id": "acme", "key_id": key_id, "user_id": None, "role": "viewer"}
    assert server.access.get_key("acme", key_id).last_used_at is not None
    wrong = server.client(key[:-4] + "AAAA")  # right prefix, wrong secret
    assert wrong.get("/v1/me").status_code == 401
    assert admin.delete(f"/v1/keys/{key_id}").json()["revoked_at"]
    assert viewer.get("/v1/me").status_code == 401

    _, expired = issue(server.access, "acme", "admin", expires_at=utcnow() - timedelta(1))
    answer = server.client(expired).get("/v1/me")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"


def test_a_key_over_its_rate_gets_429_with_retry_after(make_server: MakeServer) -> None:
    server = make_server(api_rate_burst=3, api_rate_per_s=0.01)
    busy, calm = (
        server.client(server.key("acme", "viewer")),
        server.client(server.key("acme", "viewer")),
    )
    assert [busy.get("/v1/me").status_code for _ in range(3)] == [200, 200, 200]
    refused = busy.get("/v1/me")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 50  # a token comes back in 100 s
    assert refused.json()["error"]["code"] == "rate_limited"
    assert calm.get("/v1/me").status_code == 200  # per key


def test_the_bucket_refills_with_time() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=2, clock=lambda: now[0])
    assert [buckets.take("k"), buckets.take("k")] == [0.0, 0.0]
    assert buckets.take("k") == 0.5
    now[0] = 0.5
    assert buckets.take("k") == 0.0 and buckets.take("k") > 0


def test_a_body_over_the_limit_is_413(make_server: MakeServer) -> None:
    server = make_server(api_max_body_bytes=2048)
    client = server.client(server.key("acme", "admin"))
    big = {"brief": "# Big\n" + "x" * 4000}
    answer = client.post("/v1/projects", json=big)
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"brief": "# Big\\n'
        for _ in range(8):
            yield b"x" * 512
        yield b'"}'

    chunked = client.post(
        "/v1/projects", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert chunked.status_code == 413 and chunked.json()["error"]["code"] == "too_large"
    assert client.get("/v1/projects").json()["items"] == []


def test_invalid_input_is_422_with_the_path_of_each_field(server: Server) -> None:
    client = server.client(server.key("acme", "admin"))
    answer = client.post("/v1/projects", json={"brief": "", "budget_usd": -1, "extra": 1})
    error = answer.json()["error"]
    assert answer.status_code == 422 and error["code"] == "invalid"
    assert {d["path"] for d in error["details"]} == {"body.brief", "body.budget_usd", "body.extra"}
    limit = client.get("/v1/projects", params={"limit": 0}).json()["error"]
    assert [d["path"] for d in limit["details"]] == ["query.limit"]
    cursor = client.get("/v1/projects", params={"cursor": "garbage"}).json()["error"]
    assert [d["path"] for d in cursor["details"]] == ["query.cursor"]
    workflow = client.post("/v1/projects/p-x/runs", json={"workflow": "../../etc/passwd"})
    assert workflow.status_code == 422  # a template is a name, never a path
    blank = client.post("/v1/projects", json={"brief": "   "}).json()["error"]
    assert blank["code"] == "rejected" and "empty" in blank["message"]


def test_reads_carry_an_etag_and_answer_304_when_unchanged(server: Server) -> None:
    store = server.app.state.vitco.store
    client = server.client(server.key("acme", "admin"))
    project = store.create_project("p", "/nowhere", tenant_id="acme")
    first = client.get(f"/v1/projects/{project.id}")
    etag = first.headers["ETag"]
    same = client.get(f"/v1/projects/{project.id}", headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b"" and same.headers["ETag"] == etag
    client.post(f"/v1/projects/{project.id}/archive")
    changed = client.get(f"/v1/projects/{project.id}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_mutating_requests_are_audited_reads_are_not(server: Server) -> None:
    admin = server.client(server.key("acme", "admin"))
    viewer = server.client(server.key("acme", "viewer"))
    admin.post("/v1/users", json={"email": "a@example.com", "role": "client"})
    viewer.post("/v1/users", json={"email": "b@example.com", "role": "client"})
    admin.get("/v1/users")
    server.client().post("/v1/users", json={})  # no key: not stored
    entries = admin.get("/v1/audit").json()["items"]
    assert [(e["method"], e["action"], e["status"]) for e in entries] == [
        ("POST", "POST /v1/users", 403),
        ("POST", "POST /v1/users", 201),
    ]
    assert entries[0]["key_id"] != entries[1]["key_id"] and all(e["request_id"] for e in entries)


def test_cors_answers_only_the_origins_configured(make_server: MakeServer) -> None:
    server = make_server(api_cors_origins=["https://portal.example"])
    client = server.client()
    preflight = {"Access-Control-Request-Method": "GET"}
    good = client.options("/v1/projects", headers={"Origin": "https://portal.example", **preflight})
    bad = client.options("/v1/projects", headers={"Origin": "https://evil.example", **preflight})
    assert good.headers["access-control-allow-origin"] == "https://portal.example"
    assert "access-control-allow-origin" not in bad.headers and bad.status_code == 400


def test_the_openapi_document_is_3_1_and_names_the_error_body(server: Server) -> None:
    document = server.client().get("/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert "ErrorBody" in document["components"]["schemas"]
    projects = document["paths"]["/v1/projects"]["post"]
    assert {"401", "403", "422", "429"} <= set(projects["responses"])
