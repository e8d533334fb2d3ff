"""Mail: the protocol and its adapters."""

from vitco.integrations.mail.outbox import OutboxMailer
from vitco.integrations.mail.protocol import Mailer

__all__ = ["Mailer", "OutboxMailer"]
