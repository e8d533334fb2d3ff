"""Mail over SMTP (``smtplib``): STARTTLS, then AUTH, then the message.

The connection comes from a factory passed in (``connect``: an ``smtplib.SMTP`` to the server,
made per message). With ``starttls`` (the default) a server that does not offer STARTTLS is
refused before any credential or message is sent, and the server's certificate is checked
against ``tls`` (an ``ssl.SSLContext``: the system's CAs by default, or the one a deployment
trusts); a password never crosses the network in clear.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import make_msgid

from vitco.integrations.mail.exceptions import MailRejected, MailUnavailable

BACKEND = "smtp"


class SmtpMailer:
    """Sends each message over a new SMTP connection from ``connect``."""

    def __init__(
        self,
        connect: Callable[[], smtplib.SMTP],
        *,
        starttls: bool = True,
        tls: ssl.SSLContext | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.connect = connect
        self.starttls = starttls
        self.tls = tls if tls is not None else ssl.create_default_context()
        self.username = username
        self.password = password

    def send(self, message: EmailMessage, key: str) -> str:
        if message["Message-ID"] is None:
            message["Message-ID"] = make_msgid(domain="vitco.local")
        try:
            with self.connect() as smtp:
                smtp.ehlo()
                if self.starttls:
                    if not smtp.has_extn("starttls"):
                        raise MailRejected(BACKEND, None, "the server offers no STARTTLS")
                    smtp.starttls(context=self.tls)
                    smtp.ehlo()
                if self.username is not None:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise MailRejected(BACKEND, exc.smtp_code, "authentication failed") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailRejected(
                BACKEND, None, f"recipients refused: {sorted(exc.recipients)}"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            detail = _text(exc.smtp_error)
            if 400 <= exc.smtp_code < 500:
                raise MailUnavailable(BACKEND, f"{exc.smtp_code} {detail}") from exc
            raise MailRejected(BACKEND, exc.smtp_code, detail) from exc
        except ssl.SSLCertVerificationError as exc:
            raise MailRejected(
                BACKEND, None, f"TLS certificate not trusted: {exc.verify_message}"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise MailRejected(BACKEND, None, str(exc)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise MailUnavailable(BACKEND, f"{type(exc).__name__}: {exc}") from exc
        if refused:
            raise MailRejected(BACKEND, None, f"recipients refused: {sorted(refused)}")
        return f"smtp:{message['Message-ID']}"


def _text(error: bytes | str) -> str:
    return error.decode(errors="replace") if isinstance(error, bytes) else str(error)
