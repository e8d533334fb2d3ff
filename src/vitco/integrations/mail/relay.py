"""Every mail lands in the outbox, then goes out through a remote backend once.

``RelayMailer(outbox, remote)`` writes the message to the outbox first (so it is never lost,
whatever the remote does), then hands it to ``remote`` unless a marker next to the outbox file
says that was done. The marker (``<mail>.sent``, holding what the remote answered) is written
atomically after the remote accepted it: a crash between the two sends that one mail again
(at least once; neither SMTP nor SendGrid offers an idempotency key to do better). A remote
failure is :class:`MailNotRelayed`, naming the outbox file: the mail is kept, and sending the
same key again tries the remote again.
"""

from __future__ import annotations

import os
from email.message import EmailMessage
from pathlib import Path

from vitco.integrations.mail.exceptions import MailError, MailNotRelayed
from vitco.integrations.mail.outbox import OutboxMailer
from vitco.integrations.mail.protocol import Mailer


class RelayMailer:
    """The outbox, then ``remote`` once per key; returns the remote's answer."""

    def __init__(self, outbox: OutboxMailer, remote: Mailer) -> None:
        self.outbox = outbox
        self.remote = remote

    def send(self, message: EmailMessage, key: str) -> str:
        path = Path(self.outbox.send(message, key))
        marker = path.with_suffix(".sent")
        if marker.exists():
            return marker.read_text()
        try:
            where = self.remote.send(message, key)
        except MailError as exc:
            raise MailNotRelayed(str(path), exc) from exc
        tmp = marker.with_suffix(".sent-tmp")
        tmp.write_text(where)
        os.replace(tmp, marker)
        return where
