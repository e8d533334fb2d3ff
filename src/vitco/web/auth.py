"""``/login`` and ``/logout``: an API key pasted once becomes the browser's session cookie.

The key is checked like any request's (``Authenticator``: hash, revocation, expiry, the key's
rate limit) and never stored in the browser; the cookie is ``vitco.api.sessions``'. A login
form posted from another site (``Origin`` of another host) is refused, and ``next`` only ever
leads to a path of this server (no open redirect). A login is in the tenant's audit log like
any mutating request of the key.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from vitco.api.exceptions import ApiError, TooManyRequests
from vitco.api.sessions import COOKIE, same_origin
from vitco.web.exceptions import WebError
from vitco.web.pages import HEADERS, context, render, session_of

router = APIRouter(include_in_schema=False)

MAX_FORM = 8192


def home_of(role: str) -> str:
    return "/portal" if role == "client" else "/"


def safe_next(target: str | None, role: str) -> str:
    """``target`` if it is a path on this server, else the role's home page."""
    if (
        target
        and target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and all(c.isprintable() and c not in "\\" for c in target)
    ):
        return target
    return home_of(role)


async def form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM:
        raise WebError(413, "the form is too large")
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
    return {k: v[0] for k, v in fields.items() if v}


def refuse_cross_site(request: Request) -> None:
    if request.headers.get("origin") is not None and not same_origin(request):
        raise WebError(403, "a login or logout from another site is refused")


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", session=session_of(request), next=next or "", error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    refuse_cross_site(request)
    fields = await form(request)
    ctx = context(request)
    key = fields.get("key", "").strip()
    try:
        caller = ctx.authenticator.authenticate(f"Bearer {key}")
        wait = ctx.buckets.take(caller.key_id)
        if wait > 0:
            raise TooManyRequests(wait)
    except ApiError as exc:
        message = (
            exc.message
            if isinstance(exc, TooManyRequests)
            else ("that key is not valid: it is unknown, revoked or expired")
        )
        return render(request, "login.html", exc.status, next=fields.get("next", ""), error=message)
    assert ctx.sessions is not None
    request.state.caller = caller  # the audit log records who logged in (vitco.api.audit)
    request.state.endpoint = "POST /login"
    value, _ = ctx.sessions.open(caller)
    answer = RedirectResponse(
        safe_next(fields.get("next"), caller.role), status_code=303, headers=HEADERS
    )
    answer.set_cookie(
        COOKIE,
        value,
        max_age=int(ctx.sessions.max_age_s),
        path="/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )
    return answer


@router.post("/logout")
async def logout(request: Request) -> Response:
    refuse_cross_site(request)
    session = session_of(request)
    fields = await form(request)
    if session is not None and not hmac.compare_digest(
        fields.get("csrf", "").encode(), session.csrf.encode()
    ):
        raise WebError(403, "the form's CSRF token is missing or wrong")
    answer = RedirectResponse("/login", status_code=303, headers=HEADERS)
    answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return answer
