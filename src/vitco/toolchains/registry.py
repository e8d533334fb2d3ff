"""The toolchains vitco has, by name: the built-in ones, and any registered from outside.

``register`` adds one (a plugin, a test); ``get_toolchain`` finds one by the name a plan gives
and raises ``UnknownToolchain`` naming the known ones; ``available`` is what the manager may
choose from (``node-service`` only where Node.js is installed).
"""

from __future__ import annotations

import shutil
import threading

from vitco.toolchains.exceptions import UnknownToolchain
from vitco.toolchains.node import NodeService
from vitco.toolchains.protocol import Toolchain
from vitco.toolchains.python_cli import PythonCli
from vitco.toolchains.python_library import PythonLibrary
from vitco.toolchains.python_service import PythonService

DEFAULT_TOOLCHAIN = "python-service"
_lock = threading.Lock()
_toolchains: dict[str, Toolchain] = {}


def register(toolchain: Toolchain, *, replace: bool = False) -> None:
    """Make ``toolchain`` choosable by its name; a name already taken needs ``replace``."""
    with _lock:
        if toolchain.name in _toolchains and not replace:
            raise ValueError(f"a toolchain named {toolchain.name!r} is registered already")
        _toolchains[toolchain.name] = toolchain


def unregister(name: str) -> None:
    with _lock:
        _toolchains.pop(name, None)


def get_toolchain(name: str) -> Toolchain:
    with _lock:
        found = _toolchains.get(name)
        if found is None:
            raise UnknownToolchain(name, _toolchains)
        return found


def available() -> list[Toolchain]:
    """The registered toolchains, the default first."""
    with _lock:
        return sorted(_toolchains.values(), key=lambda t: (t.name != DEFAULT_TOOLCHAIN, t.name))


for _builtin in (PythonService(), PythonCli(), PythonLibrary()):
    register(_builtin)
if shutil.which("node"):
    register(NodeService())
