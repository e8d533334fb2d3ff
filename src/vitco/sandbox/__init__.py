"""Runs untrusted, model-written code: no network, a confined filesystem, limits.

``get_sandbox(settings)`` returns the ``BwrapSandbox`` (the default) or, only when explicitly
configured, the ``UnsafeSandbox``. Both implement the ``Sandbox`` protocol.

Public names are re-exported lazily: importing ``vitco.sandbox.exceptions`` (or the package)
does not import the sandboxes themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vitco._lazy import exports

_EXCEPTIONS = "vitco.sandbox.exceptions"
_PROTOCOL = "vitco.sandbox.protocol"
_NAMES = {
    "BadWorkspace": _EXCEPTIONS,
    "Bridge": "vitco.sandbox.bridge",
    "BwrapMissing": _EXCEPTIONS,
    "BwrapSandbox": "vitco.sandbox.bwrap",
    "LimitName": _PROTOCOL,
    "Limits": _PROTOCOL,
    "OutputCallback": _PROTOCOL,
    "Process": _PROTOCOL,
    "Result": _PROTOCOL,
    "Sandbox": _PROTOCOL,
    "SandboxError": _EXCEPTIONS,
    "SandboxIdsExhausted": "vitco.sandbox.identity",
    "SandboxUnavailable": _EXCEPTIONS,
    "SandboxUserMissing": _EXCEPTIONS,
    "ToolMissing": _EXCEPTIONS,
    "UnsafeSandbox": "vitco.sandbox.unsafe",
    "UnsafeSandboxRefused": _EXCEPTIONS,
    "UserNamespacesDisabled": _EXCEPTIONS,
    "get_sandbox": "vitco.sandbox.factory",
}
__all__ = sorted(_NAMES)
__getattr__ = exports(__name__, _NAMES)

if TYPE_CHECKING:
    from vitco.sandbox.bridge import Bridge as Bridge
    from vitco.sandbox.bwrap import BwrapSandbox as BwrapSandbox
    from vitco.sandbox.exceptions import (
        BadWorkspace as BadWorkspace,
    )
    from vitco.sandbox.exceptions import (
        BwrapMissing as BwrapMissing,
    )
    from vitco.sandbox.exceptions import (
        SandboxError as SandboxError,
    )
    from vitco.sandbox.exceptions import (
        SandboxUnavailable as SandboxUnavailable,
    )
    from vitco.sandbox.exceptions import (
        SandboxUserMissing as SandboxUserMissing,
    )
    from vitco.sandbox.exceptions import (
        ToolMissing as ToolMissing,
    )
    from vitco.sandbox.exceptions import (
        UnsafeSandboxRefused as UnsafeSandboxRefused,
    )
    from vitco.sandbox.exceptions import (
        UserNamespacesDisabled as UserNamespacesDisabled,
    )
    from vitco.sandbox.factory import get_sandbox as get_sandbox
    from vitco.sandbox.identity import SandboxIdsExhausted as SandboxIdsExhausted
    from vitco.sandbox.protocol import (
        LimitName as LimitName,
    )
    from vitco.sandbox.protocol import (
        Limits as Limits,
    )
    from vitco.sandbox.protocol import (
        OutputCallback as OutputCallback,
    )
    from vitco.sandbox.protocol import (
        Process as Process,
    )
    from vitco.sandbox.protocol import (
        Result as Result,
    )
    from vitco.sandbox.protocol import (
        Sandbox as Sandbox,
    )
    from vitco.sandbox.unsafe import UnsafeSandbox as UnsafeSandbox
