"""Lazy re-exports for package faces: ``from vitco.workflow import Runtime`` works, but
importing ``vitco.workflow`` (or any module in it) does not import what the names come from
until one is used, so a command imports only what it uses (``vitco --help`` stays fast). No
library does this for a plain package; PEP 562's module ``__getattr__`` is the mechanism.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving each name of ``names`` (name -> module) on first
    use."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
