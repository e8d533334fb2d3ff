"""Errors raised by the sandbox.

```
SandboxError                    anything the sandbox refuses or cannot do
├── SandboxUnavailable          this machine cannot run the sandbox; ``fix`` says what to do
│   ├── BwrapMissing            the ``bwrap`` binary is not installed
│   ├── UserNamespacesDisabled  bwrap cannot create namespaces here
│   ├── SandboxUserMissing      vitco runs as root and the unprivileged uid does not exist
│   └── ToolMissing             ``prlimit`` / ``setpriv`` (util-linux) is missing
├── SandboxIdsExhausted         a project's slot is past the reserved uid range (identity.py)
├── UnsafeSandboxRefused        the unsafe runner was asked for without ``sandbox = "unsafe"``
└── BadWorkspace              the workspace is not a directory, would expose too much, or
                                lies where sandboxed code could swap it for a link
```

A command that fails, or is stopped by a limit, is not an error: it is a ``Result``.
"""

from __future__ import annotations

from pathlib import Path

_UNSAFE_HINT = "or, to run generated code WITHOUT isolation, set VITCO_SANDBOX=unsafe"


class SandboxError(Exception):
    """Base class of every sandbox error."""


class SandboxUnavailable(SandboxError):
    """This machine cannot run the bubblewrap sandbox.

    ``reason`` says what is wrong, ``fix`` what to do about it.
    """

    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(f"sandbox unavailable: {reason}. Fix: {fix}")
        self.reason = reason
        self.fix = fix


class BwrapMissing(SandboxUnavailable):
    """``bwrap`` is not on PATH."""

    def __init__(self) -> None:
        super().__init__(
            "bubblewrap (bwrap) is not installed",
            "run `sudo scripts/install-system.sh` (or `apt-get install -y bubblewrap`), "
            + _UNSAFE_HINT,
        )


class UserNamespacesDisabled(SandboxUnavailable):
    """bwrap is installed but cannot create its namespaces; ``detail`` is bwrap's message."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"bwrap cannot create namespaces here ({detail.strip() or 'no message'})",
            "enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 "
            "or user.max_user_namespaces>0; in a container allow unshare/clone, e.g. "
            "--security-opt seccomp=unconfined), " + _UNSAFE_HINT,
        )
        self.detail = detail


class SandboxUserMissing(SandboxUnavailable):
    """vitco runs as root, so sandboxed code must run as ``user``, which does not exist."""

    def __init__(self, user: str) -> None:
        super().__init__(
            f"vitco runs as root and the sandbox user {user!r} does not exist "
            "(as uid 0 the process limit is ignored)",
            f"run `sudo scripts/install-system.sh` (creates {user!r}), set VITCO_SANDBOX_USER "
            "to an existing unprivileged user used by no service, " + _UNSAFE_HINT,
        )
        self.user = user


class ToolMissing(SandboxUnavailable):
    """A helper binary the sandbox runs (``prlimit``, ``setpriv``) is missing."""

    def __init__(self, tool: str) -> None:
        super().__init__(
            f"{tool!r} is not installed",
            "run `sudo scripts/install-system.sh` (or `apt-get install -y util-linux`)",
        )
        self.tool = tool


class UnsafeSandboxRefused(SandboxError):
    """Model-written code may only run unsandboxed when ``sandbox = "unsafe"`` is set."""

    def __init__(self) -> None:
        super().__init__(
            "refusing to run generated code without isolation: the unsafe sandbox must be "
            'chosen explicitly (VITCO_SANDBOX=unsafe, i.e. Settings(sandbox="unsafe"))'
        )


class BadWorkspace(SandboxError):
    """The workspace cannot be used as one: ``path`` and ``reason`` say why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"workspace {path}: {reason}")
        self.path = path
        self.reason = reason
