"""The dashboard (``/``) and the client portal (``/portal``) of ``vitco serve``: server-rendered
pages (Jinja2) with a little plain JavaScript, every one a client of the public ``/v1`` API and
its live events; nothing is fetched from another server (they work offline).

``install(app)`` adds the pages, ``/login``, ``/logout`` and ``/static`` to the API's app
(none of them in the OpenAPI document). Browsers authenticate with a session cookie made from
an API key pasted once (``vitco.api.sessions``); ``docs/web.md`` shows the pages.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from vitco.web import auth, dashboard, insight, portal
from vitco.web.exceptions import ApiFailed, WebError
from vitco.web.pages import STATIC, web_error

__all__ = ["ApiFailed", "WebError", "install"]


def install(app: FastAPI) -> None:
    """Serve the pages from ``app`` (the API's app: ``vitco.api.create_app``)."""
    for module in (auth, dashboard, insight, portal):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(WebError, web_error)
