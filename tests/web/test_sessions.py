"""Browser sessions attacked over real HTTP (``vitco.api.sessions``, ``vitco.web.auth``): a
forged, altered or expired cookie, a cookie of one tenant asking for another's rows, a
mutating request or a WebSocket without the session's CSRF token or from another site, a
revoked key, a login posted from another site, and an open redirect through ``next``."""

from __future__ import annotations

import asyncio
import re

import httpx
import websockets

from tests.api.server import Server
from vitco.api.sessions import COOKIE, BrowserSessions, load_secret
from vitco.cli.run import DEMO_BRIEF

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"  # base64url


def logged_in(server: Server, key: str) -> tuple[httpx.Client, str]:
    """A browser-like client logged in with ``key``, and its CSRF token."""
    browser = server.client(follow_redirects=False)
    answer = browser.post("/login", data={"key": key, "next": "/portal"})
    assert answer.status_code == 303 and answer.headers["location"] == "/portal"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; https pages get Secure
    page = browser.get("/portal")
    assert page.status_code == 200
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert found is not None
    return browser, found.group(1)


def test_a_session_stands_for_its_key_and_needs_its_csrf_token_to_change_anything(
    server: Server,
) -> None:
    browser, csrf = logged_in(server, server.key("acme", "manager"))
    assert browser.get("/v1/me").json()["role"] == "manager"
    refused = browser.post("/v1/projects", json={"brief": DEMO_BRIEF.read_text()})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf"
    wrong = browser.post(
        "/v1/projects", json={"brief": DEMO_BRIEF.read_text()}, headers={"X-CSRF-Token": "x" + csrf}
    )
    assert wrong.status_code == 403
    assert server.access.projects("acme").items == []  # nothing was made by either
    made = browser.post(
        "/v1/projects", json={"brief": DEMO_BRIEF.read_text()}, headers={"X-CSRF-Token": csrf}
    )
    assert made.status_code == 201
    # a key in the header needs no token, cookie or not: API clients never see one
    assert server.client(server.key("acme", "manager")).get("/v1/me").status_code == 200
    # the login and what the session did are in the tenant's audit log, under the key
    audit = server.client(server.key("acme", "admin")).get("/v1/audit").json()["items"]
    actions = [(a["action"], a["status"]) for a in audit]
    assert ("POST /login", 303) in actions and ("POST /v1/projects", 201) in actions
    assert actions.count(("POST /v1/projects", 403)) == 2  # the refused ones too


def test_forged_altered_and_expired_cookies_are_refused(server: Server) -> None:
    browser, _ = logged_in(server, server.key("acme", "admin"))
    value = browser.cookies[COOKIE]
    payload, _, signature = value.rpartition(".")
    # the last character of a 32-byte signature in base64 carries 4 bits and 2 unused ones:
    # one with other bits of data, and one with the same data and other unused bits (the same
    # bytes to a lenient decoder: refused too, the signature has one encoding)
    last = ALPHABET.index(signature[-1])
    other_data = signature[:-1] + ALPHABET[last ^ 0b100000]
    other_unused = signature[:-1] + ALPHABET[last ^ 0b01]
    for bad in (
        payload + "." + other_data,
        payload + "." + other_unused,
        value[:-3],
        "eyJrIjoiay0xIiwicCI6ImFhYWFhYWFhYWFhYSIsImMiOiJ4In0.AAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ):
        forged = server.client(cookies={COOKIE: bad})
        assert forged.get("/v1/me").status_code == 401
        assert forged.get("/", follow_redirects=False).headers["location"] == "/login?next=/"
    # a cookie signed with another secret (another server's) is refused too
    ctx = server.app.state.vitco
    elsewhere = BrowserSessions(ctx.access, b"k" * 32)
    caller = ctx.authenticator.authenticate(f"Bearer {server.key('acme', 'admin')}")
    stranger, _ = elsewhere.open(caller)
    assert server.client(cookies={COOKIE: stranger}).get("/v1/me").status_code == 401

    # an expired one: the same secret, a clock past the session's life
    secret = load_secret(ctx.settings.home / "web-session.key")
    old, _ = BrowserSessions(ctx.access, secret, clock=lambda: 1_000_000.0).open(caller)
    assert server.client(cookies={COOKIE: old}).get("/v1/me").status_code == 401
    fresh, _ = BrowserSessions(ctx.access, secret).open(caller)
    assert server.client(cookies={COOKIE: fresh}).get("/v1/me").status_code == 200


def test_a_session_sees_only_its_tenant_and_ends_with_its_key(server: Server) -> None:
    theirs = server.client(server.key("globex", "admin"))
    project = theirs.post("/v1/projects", json={"brief": DEMO_BRIEF.read_text()}).json()
    key = server.key("acme", "admin")
    browser, _ = logged_in(server, key)
    assert browser.get(f"/v1/projects/{project['id']}").status_code == 404
    assert browser.get(f"/v1/events?project_id={project['id']}").status_code == 404
    assert browser.get(f"/portal/projects/{project['id']}").status_code == 404
    assert browser.get("/v1/projects").json()["items"] == []
    # revoking the key ends every session made from it, at once
    me = server.client(key).get("/v1/me").json()
    assert server.client(key).delete(f"/v1/keys/{me['key_id']}").status_code in (200, 204)
    assert browser.get("/v1/me").status_code == 401


def test_a_viewer_session_is_refused_what_the_matrix_refuses_the_viewer(server: Server) -> None:
    admin = server.client(server.key("acme", "admin"))
    project = admin.post("/v1/projects", json={"brief": DEMO_BRIEF.read_text()}).json()
    browser, csrf = logged_in(server, server.key("acme", "viewer"))
    answer = browser.put(
        f"/v1/projects/{project['id']}/budget",
        json={"budget_usd": 9},
        headers={"X-CSRF-Token": csrf},
    )
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"
    assert admin.get(f"/v1/projects/{project['id']}/budget").json()["budget_usd"] is None
    assert browser.get("/health").status_code == 403  # the process's figures: operators only


def test_a_websocket_with_a_session_cookie_must_come_from_this_site(server: Server) -> None:
    browser, _ = logged_in(server, server.key("acme", "viewer"))
    cookie = f"{COOKIE}={browser.cookies[COOKIE]}"
    url = server.url.replace("http", "ws", 1) + "/v1/events"

    async def status(origin: str | None) -> int:
        headers = {"Cookie": cookie} | ({"Origin": origin} if origin else {})
        try:
            async with websockets.connect(url, additional_headers=headers, origin=None):
                return 101
        except websockets.exceptions.InvalidStatus as exc:
            return exc.response.status_code

    assert asyncio.run(status("http://evil.example")) == 403
    assert asyncio.run(status(None)) == 403
    assert asyncio.run(status(server.url)) == 101


def test_login_goes_only_to_a_path_of_this_server(server: Server) -> None:
    key = server.key("acme", "manager")
    for target, lands in [
        ("/runs/r-1", "/runs/r-1"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
    ]:
        browser = server.client(follow_redirects=False)
        answer = browser.post("/login", data={"key": key, "next": target})
        assert answer.status_code == 303 and answer.headers["location"] == lands, target


def test_a_bad_key_a_cross_site_login_and_a_logout_without_its_token(server: Server) -> None:
    browser = server.client(follow_redirects=False)
    bad = browser.post("/login", data={"key": "vk_000000000000_nope"})
    assert bad.status_code == 401 and COOKIE not in bad.headers.get("set-cookie", "")
    assert "not valid" in bad.text
    key = server.key("acme", "manager")
    cross = browser.post("/login", data={"key": key}, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403 and "set-cookie" not in cross.headers
    browser, csrf = logged_in(server, key)
    assert browser.post("/logout", data={"csrf": "wrong"}).status_code == 403
    assert browser.get("/v1/me").status_code == 200  # still logged in
    out = browser.post("/logout", data={"csrf": csrf})
    assert out.status_code == 303 and f'{COOKIE}=""' in out.headers["set-cookie"]
    assert browser.get("/", follow_redirects=False).status_code == 303


def test_pages_send_a_strict_content_security_policy(server: Server) -> None:
    browser, _ = logged_in(server, server.key("acme", "manager"))
    for path in ("/", "/costs", "/health", "/portal", "/login"):
        answer = browser.get(path)
        assert answer.status_code == 200, path
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert answer.headers["cache-control"] == "no-store"
        assert "<script>" not in answer.text and " style=" not in answer.text
