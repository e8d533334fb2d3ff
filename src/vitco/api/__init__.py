"""The gateway: ``vitco serve``'s REST API (FastAPI), its keys, roles, limits and audit log.

Importing the package imports no web framework; ``create_app`` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vitco._lazy import exports

_LAZY = {
    "ApiContext": "vitco.api.deps",
    "Authenticator": "vitco.api.keys",
    "Caller": "vitco.api.keys",
    "create_app": "vitco.api.app",
    "issue": "vitco.api.keys",
}
__getattr__ = exports(__name__, _LAZY)

if TYPE_CHECKING:
    from vitco.api.app import create_app as create_app
    from vitco.api.deps import ApiContext as ApiContext
    from vitco.api.keys import Authenticator as Authenticator
    from vitco.api.keys import Caller as Caller
    from vitco.api.keys import issue as issue

__all__ = ["ApiContext", "Authenticator", "Caller", "create_app", "issue"]
