"""Mail: the ``Mailer`` protocol, the outbox (every mail lands there), the remote backends
(SMTP, SendGrid) behind ``RelayMailer``, and the templates of the mails vitco sends."""

from vitco.integrations.mail.exceptions import (
    MailError,
    MailNotRelayed,
    MailRejected,
    MailUnavailable,
    TemplateError,
)
from vitco.integrations.mail.outbox import OutboxMailer
from vitco.integrations.mail.protocol import Mailer
from vitco.integrations.mail.relay import RelayMailer
from vitco.integrations.mail.sendgrid import SendGridMailer
from vitco.integrations.mail.smtp import SmtpMailer
from vitco.integrations.mail.templates import KIND_HEADER, KINDS, MailKind, compose, render

__all__ = [
    "KINDS",
    "KIND_HEADER",
    "MailError",
    "MailKind",
    "MailNotRelayed",
    "MailRejected",
    "MailUnavailable",
    "Mailer",
    "OutboxMailer",
    "RelayMailer",
    "SendGridMailer",
    "SmtpMailer",
    "TemplateError",
    "compose",
    "render",
]
