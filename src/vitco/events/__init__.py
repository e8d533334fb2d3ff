"""Wake-ups of the event feed across threads and processes: an ``EventBus`` protocol, the
in-process bus and the Redis one (``protocol`` says what a bus promises)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vitco.events.embedded import EmbeddedEventBus
from vitco.events.protocol import EventBus, EventListener

if TYPE_CHECKING:
    from vitco.config import Settings


def open_bus(settings: Settings) -> EventBus:
    """The bus of ``settings``: Redis when ``redis_url`` is set, else this process's own.
    On Redis its channel is under the installation's key prefix (``queue_prefix``, one
    installation per prefix, as the run queue's keys), so two installations sharing a Redis
    server do not wake each other's readers."""
    if settings.redis_url:
        from vitco.events.redis import redis_event_bus

        return redis_event_bus(settings.redis_url, channel=channel(settings))
    return EmbeddedEventBus()


def channel(settings: Settings) -> str:
    """The Redis channel of an installation's wake-ups."""
    return f"{settings.queue_prefix}events"


__all__ = ["EmbeddedEventBus", "EventBus", "EventListener", "channel", "open_bus"]
