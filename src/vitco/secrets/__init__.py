"""Secrets at rest: AES-256-GCM envelope encryption of tenants' secrets (``crypto``), the
master key's source (``keys``) and the ``SecretBox`` the store seals with (``vault``)."""

from vitco.secrets.crypto import MasterKey
from vitco.secrets.exceptions import (
    MalformedSecret,
    MasterKeyError,
    SecretsError,
    SecretTampered,
    WrongMasterKey,
)
from vitco.secrets.keys import load_master_key
from vitco.secrets.vault import Rotation, Vault

__all__ = [
    "MalformedSecret",
    "MasterKey",
    "MasterKeyError",
    "Rotation",
    "SecretTampered",
    "SecretsError",
    "Vault",
    "WrongMasterKey",
    "load_master_key",
]
