"""Envelope encryption with AES-256-GCM (``cryptography``'s ``AESGCM``): pure functions.

A *master key* (32 bytes, from the settings) wraps each tenant's *data key* (32 random bytes);
a data key seals that tenant's secrets. Both are AES-256-GCM with a fresh 96-bit random nonce
per encryption and associated data that binds the ciphertext to where it belongs:

- a wrapped data key: ``v1:<master id>:<base64url(nonce || ciphertext+tag)>``, associated data
  ``vitco/data-key/v1 \\0 <tenant id> \\0 <key id>``: a wrapped key copied to another tenant
  does not unwrap;
- a sealed secret: ``v1:<key id>:<base64url(nonce)>:<base64url(ciphertext+tag)>``, associated
  data ``vitco/secret/v1 \\0 <tenant id> \\0 <name>``: a value moved to another row (another
  tenant, another webhook, another name) fails authentication, as does any flipped byte.

The master id is the first 8 bytes of SHA-256 over a label and the key, in hex: it names which
master key wrapped a data key (so rotation knows which of the old and new key to use) without
revealing anything usable about it. No primitive is written here; only the format is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vitco.secrets.exceptions import MalformedSecret, MasterKeyError, SecretTampered

VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
PLAIN = "plain:"
"""The scheme of values stored before encryption at rest (read, and re-sealed when met)."""


@dataclass(frozen=True)
class MasterKey:
    """A 256-bit master key; ``id`` names it, the bytes never appear in a repr."""

    key: bytes = field(repr=False)
    id: str = ""

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise ValueError(f"a master key is {KEY_BYTES} bytes, not {len(self.key)}")
        digest = hashlib.sha256(b"vitco/master-key-id/v1\0" + self.key).hexdigest()[:16]
        object.__setattr__(self, "id", digest)

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(os.urandom(KEY_BYTES))

    @classmethod
    def parse(cls, text: str, source: str) -> MasterKey:
        """A master key from its base64 text (standard or URL-safe alphabet)."""
        cleaned = text.strip()
        try:
            raw = base64.b64decode(cleaned.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != KEY_BYTES:
            raise MasterKeyError(
                source,
                f"not {KEY_BYTES} bytes of base64",
                'make one with: python -c "import base64,os; '
                'print(base64.b64encode(os.urandom(32)).decode())"',
            )
        return cls(raw)

    def text(self) -> str:
        """The base64 form :meth:`parse` reads."""
        return base64.b64encode(self.key).decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key_ad(tenant_id: str, key_id: str) -> bytes:
    return f"vitco/data-key/{VERSION}\0{tenant_id}\0{key_id}".encode()


def _secret_ad(tenant_id: str, name: str) -> bytes:
    return f"vitco/secret/{VERSION}\0{tenant_id}\0{name}".encode()


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=8 * KEY_BYTES)


def wrap_key(master: MasterKey, tenant_id: str, key_id: str, data_key: bytes) -> str:
    """``data_key`` of ``tenant_id`` encrypted under ``master``."""
    nonce = os.urandom(NONCE_BYTES)
    ct = AESGCM(master.key).encrypt(nonce, data_key, _key_ad(tenant_id, key_id))
    return f"{VERSION}:{master.id}:{_b64(nonce + ct)}"


def wrapped_by(wrapped: str) -> str:
    """The id of the master key that wrapped ``wrapped`` ("" when unreadable)."""
    parts = wrapped.split(":")
    return parts[1] if len(parts) == 3 and parts[0] == VERSION else ""


def unwrap_key(master: MasterKey, tenant_id: str, key_id: str, wrapped: str) -> bytes:
    """The data key in ``wrapped``; :class:`SecretTampered` if it does not authenticate."""
    parts = wrapped.split(":")
    if len(parts) != 3 or parts[0] != VERSION:
        raise MalformedSecret(tenant_id, f"data key {key_id}", "not a v1 wrapped key")
    try:
        blob = _unb64(parts[2])
        key = AESGCM(master.key).decrypt(
            blob[:NONCE_BYTES], blob[NONCE_BYTES:], _key_ad(tenant_id, key_id)
        )
    except (InvalidTag, ValueError, binascii.Error) as exc:
        raise SecretTampered(tenant_id, f"data key {key_id}") from exc
    if len(key) != KEY_BYTES:
        raise SecretTampered(tenant_id, f"data key {key_id}")
    return key


@dataclass(frozen=True)
class Sealed:
    """The parts of a ``v1:`` value."""

    key_id: str
    nonce: bytes
    ciphertext: bytes


def parse_sealed(tenant_id: str, name: str, sealed: str) -> Sealed:
    """The parts of ``sealed``; :class:`MalformedSecret` if it is not ``v1:`` text."""
    parts = sealed.split(":")
    if len(parts) != 4 or parts[0] != VERSION or not parts[1]:
        scheme = parts[0] if len(parts) > 1 else "no scheme"
        raise MalformedSecret(tenant_id, name, f"not a {VERSION} sealed value ({scheme!r})")
    try:
        nonce, ct = _unb64(parts[2]), _unb64(parts[3])
    except (ValueError, binascii.Error) as exc:
        raise SecretTampered(tenant_id, name) from exc
    if len(nonce) != NONCE_BYTES:
        raise SecretTampered(tenant_id, name)
    return Sealed(parts[1], nonce, ct)


def seal(data_key: bytes, key_id: str, tenant_id: str, name: str, secret: str) -> str:
    """``secret`` encrypted under ``data_key``, bound to ``tenant_id`` and ``name``."""
    nonce = os.urandom(NONCE_BYTES)
    ct = AESGCM(data_key).encrypt(nonce, secret.encode(), _secret_ad(tenant_id, name))
    return f"{VERSION}:{key_id}:{_b64(nonce)}:{_b64(ct)}"


def open_sealed(data_key: bytes, tenant_id: str, name: str, sealed: Sealed) -> str:
    """The secret in ``sealed``; :class:`SecretTampered` if it does not authenticate."""
    try:
        plain = AESGCM(data_key).decrypt(
            sealed.nonce, sealed.ciphertext, _secret_ad(tenant_id, name)
        )
        return plain.decode()
    except (InvalidTag, UnicodeDecodeError) as exc:
        raise SecretTampered(tenant_id, name) from exc
