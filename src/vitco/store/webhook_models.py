"""The tables of webhooks, in and out.

In: ``HookSecret`` (a tenant's shared secret per source: generic, github, stripe) and
``HookDelivery`` (every signed delivery accepted, one row per delivery id: replays find it).
Out: ``Webhook`` (a tenant's subscription of a URL to event types, with its cursor in the
event sequence), ``WebhookDelivery`` (one event for one subscription, with its status) and
``WebhookAttempt`` (each try to send one).

Secrets are stored sealed by a ``vitco.store.secrets.SecretBox`` (AES-256-GCM, ``v1:...``;
``plain:`` in rows from before encryption at rest, re-sealed when read).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vitco.store.models import Base, UTCDateTime, utcnow

__all__ = ["HookDelivery", "HookSecret", "Webhook", "WebhookAttempt", "WebhookDelivery"]


class HookSecret(Base):
    """The secret a tenant shares with one source of inbound webhooks."""

    __tablename__ = "hook_secrets"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HookDelivery(Base):
    """One inbound delivery whose signature verified. ``status``: ``received`` (being
    accepted; ``claimed_at`` says since when), ``accepted`` (its project/run are stored),
    ``ignored`` (nothing to do for it), ``refused`` (it could not be acted on; a redelivery
    tries again). ``ref`` is what the delivery is about at its source (a GitHub repository)."""

    __tablename__ = "hook_deliveries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source", "delivery_id", name="uq_hook_deliveries_id"),
        Index("ix_hook_deliveries_ref", "tenant_id", "source", "ref"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    source: Mapped[str] = mapped_column(String(16))
    delivery_id: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(100))
    ref: Mapped[str | None] = mapped_column(String(300), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="received")
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Webhook(Base):
    """A tenant's subscription: ``url`` receives the events whose kind ``events`` names
    (``*``: all). ``after_event`` is the last event sequence number turned into deliveries."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[Any]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(200), default="")
    after_event: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookDelivery(Base):
    """One event for one subscription. ``status``: ``pending`` (due at ``next_at``),
    ``sending`` (taken at ``claimed_at``), ``succeeded``, ``failed`` (attempts exhausted)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_seq", name="uq_webhook_deliveries_event"),
        Index("ix_webhook_deliveries_due", "status", "next_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    event_seq: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookAttempt(Base):
    """One try to send a delivery: when, how long, the HTTP status or the error."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
