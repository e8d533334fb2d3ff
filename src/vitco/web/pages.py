"""What every page shares: the templates, the security headers, and the session a page is
shown to (the browser's cookie, ``vitco.api.sessions``).

Pages send a strict Content-Security-Policy (scripts, styles and connections from this server
only; no inline script or style; no framing) and are never cached (they carry the session's
CSRF token). Jinja2 escapes every value a template prints: model answers, briefs and file
names reach these pages and are hostile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from vitco.api.deps import ApiContext
from vitco.api.exceptions import ApiError
from vitco.api.permissions import allowed
from vitco.api.sessions import COOKIE, Session
from vitco.web.exceptions import WebError

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
        "object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class LoginNeeded(WebError):
    def __init__(self) -> None:
        super().__init__(401, "log in with an API key")


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.vitco
    return ctx


def session_of(request: Request) -> Session | None:
    """The browser's verified session, or None (no cookie, a bad or expired one)."""
    sessions = context(request).sessions
    value = request.cookies.get(COOKIE)
    if sessions is None or not value:
        return None
    try:
        return sessions.verify(value)
    except ApiError:
        return None


def require(request: Request, *roles: str) -> Session:
    """The session a page is shown to; ``LoginNeeded`` without one, 403 for another role."""
    session = session_of(request)
    if session is None:
        raise LoginNeeded()
    if roles and session.caller.role not in roles:
        raise WebError(403, f"this page is not for the role {session.caller.role!r}")
    return session


def can(session: Session, endpoint: str) -> bool:
    """Whether the session's role may call ``endpoint`` (the API's permission matrix)."""
    return allowed(session.caller.role, endpoint)


def render(
    request: Request, name: str, code: int = 200, session: Session | None = None, **values: Any
) -> HTMLResponse:
    """The page ``name`` with ``values``, answered with ``code`` and the security headers."""
    html = environment.get_template(name).render(
        request=request,
        session=session,
        role=session.caller.role if session else None,
        csrf=session.csrf if session else "",
        path=request.url.path,
        **values,
    )
    return HTMLResponse(html, status_code=code, headers=HEADERS)


async def web_error(request: Request, exc: Exception) -> Response:
    """A page that cannot be shown: the login page for 401, else the error page."""
    assert isinstance(exc, WebError)
    if exc.status == 401:
        target = "/login?next=" + quote(request.url.path, safe="/")
        return RedirectResponse(target, status_code=303, headers=HEADERS)
    return render(
        request,
        "error.html",
        exc.status,
        session_of(request),
        status=exc.status,
        message=exc.message,
    )


def link(url: object) -> str | None:
    """``url`` if it is an http(s) URL (a link to anything else is not drawn)."""
    text = str(url or "")
    return text if text.startswith(("http://", "https://")) else None


def short_time(value: object) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM:SS``."""
    return str(value or "").replace("T", " ")[:19]


environment.filters["link"] = link
environment.filters["when"] = short_time
environment.filters["usd"] = lambda v: f"${float(v or 0):,.4f}"
