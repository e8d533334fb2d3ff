"""Choosing the sandbox: bubblewrap unless the operator explicitly chose ``unsafe``."""

from __future__ import annotations

from vitco.config import Settings
from vitco.sandbox.bwrap import BwrapSandbox
from vitco.sandbox.protocol import Sandbox
from vitco.sandbox.unsafe import UnsafeSandbox


def get_sandbox(settings: Settings) -> Sandbox:
    """The sandbox this machine runs delivered code in.

    ``bwrap`` (the default) is checked by starting one empty sandbox; if it cannot work here
    this raises a ``SandboxUnavailable`` whose ``fix`` names what to do (install bubblewrap,
    create the sandbox uid, or set ``VITCO_SANDBOX=unsafe``). ``unsafe`` is returned only when
    ``settings.sandbox == "unsafe"``, and logs a warning.
    """
    protected = [settings.home]
    state = settings.sandbox_state_dir
    if settings.sandbox == "unsafe":
        return UnsafeSandbox(explicit=True, protected=protected, state_root=state)
    return BwrapSandbox(user=settings.sandbox_user, protected=protected, state_root=state)
