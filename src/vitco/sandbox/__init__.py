"""Runs untrusted, model-written code: no network, a confined filesystem, limits.

``get_sandbox(settings)`` returns the ``BwrapSandbox`` (the default) or, only when explicitly
configured, the ``UnsafeSandbox``. Both implement the ``Sandbox`` protocol.
"""

from vitco.sandbox.bridge import Bridge
from vitco.sandbox.bwrap import BwrapSandbox
from vitco.sandbox.exceptions import (
    BwrapMissing,
    SandboxError,
    SandboxUnavailable,
    SandboxUserMissing,
    ToolMissing,
    UnsafeSandboxRefused,
    UserNamespacesDisabled,
    WorkspaceError,
)
from vitco.sandbox.factory import get_sandbox
from vitco.sandbox.identity import SandboxIdsExhausted
from vitco.sandbox.protocol import (
    LimitName,
    Limits,
    OutputCallback,
    Process,
    Result,
    Sandbox,
)
from vitco.sandbox.unsafe import UnsafeSandbox

__all__ = [
    "Bridge",
    "BwrapMissing",
    "BwrapSandbox",
    "LimitName",
    "Limits",
    "OutputCallback",
    "Process",
    "Result",
    "Sandbox",
    "SandboxError",
    "SandboxIdsExhausted",
    "SandboxUnavailable",
    "SandboxUserMissing",
    "ToolMissing",
    "UnsafeSandbox",
    "UnsafeSandboxRefused",
    "UserNamespacesDisabled",
    "WorkspaceError",
    "get_sandbox",
]
