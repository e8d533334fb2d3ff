"""A vitco serve per test, over real HTTP (see ``tests.api.server``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

import pytest

import vitco.api.app
from tests.api.server import Server, serving
from vitco.bootstrap import build_api
from vitco.cli.run import DEMO_CASSETTE
from vitco.config import Settings
from vitco.sandbox import Sandbox

MakeServer = Callable[..., Server]

_matrix_checked = False


@contextmanager
def _matrix_checked_once() -> Iterator[None]:
    """``create_app`` checks the permission matrix against the app's endpoints
    (``vitco.api.app.check_matrix``), reading them from the OpenAPI document it generates for
    that: about 1 CPU second per app, most of a server's start. Every app ``make_server``
    builds has the same endpoints (``vitco.api.routes.ROUTERS``, module constants), so the
    check runs on the first one a test process builds and is skipped on the others;
    ``tests/api/test_permissions.py`` tests it, and every ``vitco serve`` a test starts runs it."""
    global _matrix_checked
    if _matrix_checked:
        with mock.patch.object(vitco.api.app, "check_matrix", lambda app: None):
            yield
        return
    yield
    _matrix_checked = True


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    """Settings of a server whose default model replays the demo cassette."""
    return settings.model_copy(update={"model": f"replay:{DEMO_CASSETTE}"})


@pytest.fixture
def make_server(api_settings: Settings, sandbox: Sandbox) -> Iterator[MakeServer]:
    """Start a server with these settings changed (``api_rate_burst=3``...)."""
    with ExitStack() as stack:

        def make(**changes: Any) -> Server:
            settings = api_settings.model_copy(update=changes)
            with _matrix_checked_once():
                app = build_api(settings, sandbox=sandbox)
            return stack.enter_context(serving(app))

        yield make


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server()
