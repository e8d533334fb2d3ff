"""How the store keeps a secret it must read back (a webhook's shared secret): sealed by a
``SecretBox`` on the way in, opened on the way out, in one place.

``PlainBox`` marks the text ``plain:`` and nothing more; an encrypting box (AES-256-GCM with a
key from the settings, as docs/security.md asks of secrets at rest) slots in here: a sealed
value names its scheme, so rows sealed before a switch still open.
"""

from __future__ import annotations

from typing import Protocol


class SecretBox(Protocol):
    def seal(self, secret: str) -> str: ...

    def open(self, sealed: str) -> str: ...


class PlainBox:
    """Stores the secret as it is, marked ``plain:`` (no encryption yet)."""

    scheme = "plain:"

    def seal(self, secret: str) -> str:
        return self.scheme + secret

    def open(self, sealed: str) -> str:
        scheme, sep, rest = sealed.partition(":")
        if not sep or scheme + ":" != self.scheme:
            raise ValueError(f"a secret sealed as {scheme!r}: this box opens {self.scheme!r} only")
        return rest
