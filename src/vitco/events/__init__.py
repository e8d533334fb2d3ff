"""Wake-ups of the event feed across threads and processes: an ``EventBus`` protocol, the
in-process bus and the Redis one (``protocol`` says what a bus promises)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vitco.events.embedded import EmbeddedEventBus
from vitco.events.protocol import EventBus, EventListener

if TYPE_CHECKING:
    from vitco.config import Settings


def open_bus(settings: Settings) -> EventBus:
    """The bus of ``settings``: Redis when ``redis_url`` is set, else this process's own."""
    if settings.redis_url:
        from vitco.events.redis import redis_event_bus

        return redis_event_bus(settings.redis_url)
    return EmbeddedEventBus()


__all__ = ["EmbeddedEventBus", "EventBus", "EventListener", "open_bus"]
