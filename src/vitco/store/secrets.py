"""Where the store keeps secrets it must read back: webhook shared and signing secrets and each
tenant's named secrets (integration tokens). Every one goes through a ``SecretBox``: sealed on
the way in, opened on the way out, bound to the row it belongs to by its *name*
(:func:`hook_name`, :func:`webhook_name`, :func:`tenant_secret_name`), so a sealed value copied
to another row does not open.

The box that encrypts (AES-256-GCM under a per-tenant data key) is ``vitco.secrets.Vault``;
this module holds the protocol, the rows of the data keys it keeps (:class:`DataKeys`), the
named secrets (:class:`TenantSecrets`) and :func:`reseal_stale`, which re-seals values a box
no longer writes (``plain:`` ones from before encryption at rest).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from vitco.store.exceptions import NotFound
from vitco.store.models import Tenant, utcnow
from vitco.store.secret_models import TenantKey, TenantSecret
from vitco.store.webhook_models import HookSecret, Webhook

__all__ = [
    "DataKeys",
    "SecretBox",
    "SecretInfo",
    "TenantSecrets",
    "hook_name",
    "reseal_stale",
    "tenant_secret_name",
    "webhook_name",
]


class SecretBox(Protocol):
    def seal(self, tenant_id: str, name: str, secret: str) -> str:
        """``secret`` of ``tenant_id``'s row ``name``, sealed."""
        ...

    def open(self, tenant_id: str, name: str, sealed: str) -> str:
        """The secret ``seal`` sealed for the same tenant and name; raises if it was altered."""
        ...

    def stale(self, sealed: str) -> bool:
        """Whether ``sealed`` is in a form this box reads but no longer writes."""
        ...


def hook_name(source: str) -> str:
    return f"hook/{source}"


def webhook_name(webhook_id: str) -> str:
    return f"webhook/{webhook_id}"


def tenant_secret_name(name: str) -> str:
    return f"secret/{name}"


class DataKeys:
    """The rows of the tenants' wrapped data keys (one per tenant)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def get(self, tenant_id: str) -> TenantKey | None:
        with self.sessions() as s:
            return s.get(TenantKey, tenant_id)

    def add(self, tenant_id: str, key_id: str, wrapped: str, master_id: str) -> TenantKey:
        """Store a new data key for ``tenant_id``; if another process stored one first, that
        one is returned (and must be used: values may be sealed with it already)."""
        try:
            with self.sessions.begin() as s:
                row = TenantKey(
                    tenant_id=tenant_id, key_id=key_id, wrapped=wrapped, master_id=master_id,
                    created_at=utcnow(),
                )  # fmt: skip
                s.add(row)
            return row
        except IntegrityError:
            kept = self.get(tenant_id)
            if kept is None:  # pragma: no cover - a delete raced the insert
                raise
            return kept

    def all(self) -> list[TenantKey]:
        with self.sessions() as s:
            return list(s.scalars(select(TenantKey).order_by(TenantKey.tenant_id)))

    def rewrap(self, tenant_id: str, wrapped: str, master_id: str) -> None:
        with self.sessions.begin() as s:
            s.execute(
                update(TenantKey)
                .where(TenantKey.tenant_id == tenant_id)
                .values(wrapped=wrapped, master_id=master_id, rotated_at=utcnow())
            )


@dataclass(frozen=True)
class SecretInfo:
    """What may be shown of a stored secret: never its value."""

    tenant_id: str
    name: str
    kind: str  # "secret", "hook", "webhook"
    scheme: str  # "v1" (sealed) or "plain" (from before encryption at rest)
    updated_at: datetime


def _scheme(sealed: str) -> str:
    return sealed.partition(":")[0]


class TenantSecrets:
    """Tenants' named secrets (integration tokens), sealed by ``box``."""

    def __init__(self, sessions: sessionmaker[Session], box: SecretBox) -> None:
        self.sessions = sessions
        self.box = box

    def set(self, tenant_id: str, name: str, value: str) -> SecretInfo:
        """Set (or replace) ``name`` of ``tenant_id`` (the tenant must exist)."""
        sealed = self.box.seal(tenant_id, tenant_secret_name(name), value)
        now = utcnow()
        with self.sessions.begin() as s:
            if s.get(Tenant, tenant_id) is None:
                raise NotFound("tenant", tenant_id)
            row = s.get(TenantSecret, (tenant_id, name))
            if row is None:
                row = TenantSecret(tenant_id=tenant_id, name=name, created_at=now)
                s.add(row)
            row.value, row.updated_at = sealed, now
        return SecretInfo(tenant_id, name, "secret", _scheme(sealed), now)

    def get(self, tenant_id: str, name: str) -> str | None:
        """The value of ``name``, or None; a stale value is re-sealed on the way."""
        with self.sessions() as s:
            row = s.get(TenantSecret, (tenant_id, name))
        if row is None:
            return None
        value = self.box.open(tenant_id, tenant_secret_name(name), row.value)
        if self.box.stale(row.value):
            self.set(tenant_id, name, value)
        return value

    def delete(self, tenant_id: str, name: str) -> None:
        with self.sessions.begin() as s:
            row = s.get(TenantSecret, (tenant_id, name))
            if row is None:
                raise NotFound("secret", name)
            s.delete(row)

    def infos(self, tenant_id: str | None = None) -> list[SecretInfo]:
        """Every stored secret (named, webhook in and out), of one tenant or all: no values."""
        named = select(TenantSecret)
        hooks = select(HookSecret)
        subs = select(Webhook).where(Webhook.deleted_at.is_(None))
        if tenant_id is not None:
            named = named.where(TenantSecret.tenant_id == tenant_id)
            hooks = hooks.where(HookSecret.tenant_id == tenant_id)
            subs = subs.where(Webhook.tenant_id == tenant_id)
        with self.sessions() as s:
            rows = [
                *(SecretInfo(r.tenant_id, r.name, "secret", _scheme(r.value), r.updated_at)
                  for r in s.scalars(named)),
                *(SecretInfo(r.tenant_id, r.source, "hook", _scheme(r.secret), r.created_at)
                  for r in s.scalars(hooks)),
                *(SecretInfo(r.tenant_id, r.id, "webhook", _scheme(r.secret), r.created_at)
                  for r in s.scalars(subs)),
            ]  # fmt: skip
        return sorted(rows, key=lambda r: (r.tenant_id, r.kind, r.name))

    def values(self) -> Iterator[str]:
        """Every stored secret's value, opened: what a redactor must know to remove them."""
        for tenant_id, name, sealed in _sealed_rows(self.sessions):
            yield self.box.open(tenant_id, name, sealed)


def _sealed_rows(sessions: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with sessions() as s:
        return [
            *((r.tenant_id, tenant_secret_name(r.name), r.value)
              for r in s.scalars(select(TenantSecret))),
            *((r.tenant_id, hook_name(r.source), r.secret) for r in s.scalars(select(HookSecret))),
            *((r.tenant_id, webhook_name(r.id), r.secret) for r in s.scalars(select(Webhook))),
        ]  # fmt: skip


def reseal_stale(sessions: sessionmaker[Session], box: SecretBox) -> int:
    """Re-seal every stored value ``box`` calls stale (``plain:`` ones); how many.

    Each value is opened first, so a damaged one raises before anything is written."""
    done = 0
    with sessions.begin() as s:
        for named in s.scalars(select(TenantSecret)):
            if box.stale(named.value):
                plain = box.open(named.tenant_id, tenant_secret_name(named.name), named.value)
                named.value = box.seal(named.tenant_id, tenant_secret_name(named.name), plain)
                done += 1
        for hook in s.scalars(select(HookSecret)):
            if box.stale(hook.secret):
                plain = box.open(hook.tenant_id, hook_name(hook.source), hook.secret)
                hook.secret = box.seal(hook.tenant_id, hook_name(hook.source), plain)
                done += 1
        for sub in s.scalars(select(Webhook)):
            if box.stale(sub.secret):
                plain = box.open(sub.tenant_id, webhook_name(sub.id), sub.secret)
                sub.secret = box.seal(sub.tenant_id, webhook_name(sub.id), plain)
                done += 1
    return done
