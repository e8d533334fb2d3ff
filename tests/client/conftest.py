"""The client's tests run against a real vitco serve (``tests.api.conftest``'s servers)."""

from tests.api.conftest import api_settings, make_server, server

__all__ = ["api_settings", "make_server", "server"]
