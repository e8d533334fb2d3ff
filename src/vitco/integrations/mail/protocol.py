"""The mail protocol: how vitco notifies a client."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol


class Mailer(Protocol):
    def send(self, message: EmailMessage, key: str) -> str:
        """Send ``message`` once per idempotency ``key``; returns where it went (path or id)."""
        ...
