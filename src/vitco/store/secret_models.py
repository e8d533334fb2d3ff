"""The tables of secrets at rest: each tenant's wrapped data key, and its named secrets
(integration tokens: a GitHub token, a Stripe key...), sealed (see ``vitco.secrets``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vitco.store.models import Base, UTCDateTime, utcnow

__all__ = ["TenantKey", "TenantSecret"]


class TenantKey(Base):
    """A tenant's data key, wrapped by the master key named ``master_id``."""

    __tablename__ = "tenant_keys"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32))
    wrapped: Mapped[str] = mapped_column(Text)
    master_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TenantSecret(Base):
    """A named secret of a tenant, sealed; its value never leaves the store unsealed except
    to the code that uses it."""

    __tablename__ = "tenant_secrets"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
