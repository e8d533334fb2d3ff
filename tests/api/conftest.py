"""A vitco serve per test, over real HTTP (see ``tests.api.server``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.api.server import Server, serving
from vitco.bootstrap import build_api
from vitco.cli.run import DEMO_CASSETTE
from vitco.config import Settings
from vitco.sandbox import Sandbox

MakeServer = Callable[..., Server]


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
            return stack.enter_context(serving(build_api(settings, sandbox=sandbox)))

        yield make


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server()
