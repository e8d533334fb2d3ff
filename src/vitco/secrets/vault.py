"""The ``SecretBox`` that encrypts: AES-256-GCM under a per-tenant data key, which the master
key wraps (formats in ``vitco.secrets.crypto``).

A tenant's data key is made on its first sealed secret and kept (wrapped) in the
``tenant_keys`` row; unwrapped keys are cached in memory for the vault's life. ``rotate``
moves every data key to the current master key (unwrapping with the old one where it was
wrapped by it) and re-seals what is still ``plain:``; the secrets themselves need no
re-encryption, since the data keys they are sealed with are unchanged.
"""

from __future__ import annotations

import secrets as random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from vitco.secrets import crypto
from vitco.secrets.crypto import PLAIN, MasterKey
from vitco.secrets.exceptions import MalformedSecret, SecretTampered, WrongMasterKey
from vitco.store.secrets import DataKeys, reseal_stale


@dataclass(frozen=True)
class Rotation:
    """What ``Vault.rotate`` did."""

    master_id: str
    rewrapped: int  # data keys moved from the old master key to the current one
    current: int  # data keys already under the current one
    resealed: int  # plain values sealed


class Vault:
    """Seals and opens tenants' secrets (see the module docstring).

    ``master`` is called on first use (and its answer kept), so a process that never touches
    a secret never needs a master key; ``old`` is the previous master key during a rotation;
    ``on_secret`` hears every value sealed or opened (the redactor learns it).
    """

    def __init__(
        self,
        keys: DataKeys,
        master: Callable[[], MasterKey],
        old: Callable[[], MasterKey | None] = lambda: None,
        on_secret: Callable[[str], None] | None = None,
    ) -> None:
        self.keys = keys
        self.on_secret = on_secret
        self._load_master = master
        self._load_old = old
        self._master: MasterKey | None = None
        self._cache: dict[str, tuple[str, bytes]] = {}
        self._lock = threading.Lock()

    @classmethod
    def over(
        cls,
        sessions: sessionmaker[Session],
        master: Callable[[], MasterKey],
        old: Callable[[], MasterKey | None] = lambda: None,
        on_secret: Callable[[str], None] | None = None,
    ) -> Vault:
        return cls(DataKeys(sessions), master, old, on_secret)

    @property
    def master(self) -> MasterKey:
        if self._master is None:
            self._master = self._load_master()
        return self._master

    # SecretBox ----------------------------------------------------------------------------

    def seal(self, tenant_id: str, name: str, secret: str) -> str:
        self._learn(secret)
        key_id, key = self._data_key(tenant_id, create=True)
        return crypto.seal(key, key_id, tenant_id, name, secret)

    def open(self, tenant_id: str, name: str, sealed: str) -> str:
        if sealed.startswith(PLAIN):
            return self._learn(sealed[len(PLAIN) :])
        parts = crypto.parse_sealed(tenant_id, name, sealed)
        key_id, key = self._data_key(tenant_id, create=False)
        if parts.key_id != key_id:
            raise SecretTampered(tenant_id, name)
        return self._learn(crypto.open_sealed(key, tenant_id, name, parts))

    def _learn(self, secret: str) -> str:
        """Tell ``on_secret`` (the process's redactor) of a value it must never let out."""
        if self.on_secret is not None:
            self.on_secret(secret)
        return secret

    def stale(self, sealed: str) -> bool:
        return sealed.startswith(PLAIN)

    # keys ---------------------------------------------------------------------------------

    def _data_key(self, tenant_id: str, *, create: bool) -> tuple[str, bytes]:
        with self._lock:
            cached = self._cache.get(tenant_id)
            if cached is not None:
                return cached
            row = self.keys.get(tenant_id)
            if row is None:
                if not create:
                    raise MalformedSecret(tenant_id, "data key", "no data key for this tenant")
                key_id = random.token_hex(8)
                key = crypto.new_data_key()
                wrapped = crypto.wrap_key(self.master, tenant_id, key_id, key)
                row = self.keys.add(tenant_id, key_id, wrapped, self.master.id)
            key = self._unwrap(tenant_id, row.key_id, row.wrapped, row.master_id)
            self._cache[tenant_id] = (row.key_id, key)
            return row.key_id, key

    def _unwrap(self, tenant_id: str, key_id: str, wrapped: str, master_id: str) -> bytes:
        if master_id == self.master.id:
            return crypto.unwrap_key(self.master, tenant_id, key_id, wrapped)
        old = self._load_old()
        if old is not None and master_id == old.id:
            return crypto.unwrap_key(old, tenant_id, key_id, wrapped)
        raise WrongMasterKey(tenant_id, master_id)

    def rotate(self) -> Rotation:
        """Re-wrap every data key under the current master key and seal every ``plain:``
        value. Every key is unwrapped before any is written: a missing old key or a damaged
        row stops it with nothing changed."""
        rows = self.keys.all()
        unwrapped = [
            (row, self._unwrap(row.tenant_id, row.key_id, row.wrapped, row.master_id))
            for row in rows
        ]
        moved = 0
        for row, key in unwrapped:
            if row.master_id != self.master.id:
                wrapped = crypto.wrap_key(self.master, row.tenant_id, row.key_id, key)
                self.keys.rewrap(row.tenant_id, wrapped, self.master.id)
                moved += 1
        with self._lock:
            self._cache.clear()
        resealed = reseal_stale(self.keys.sessions, self)
        return Rotation(self.master.id, moved, len(rows) - moved, resealed)
