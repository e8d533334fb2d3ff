"""Mail through SendGrid's v3 API: ``POST /v3/mail/send`` (JSON, ``Authorization: Bearer``).

Written to SendGrid's documented request: ``personalizations[].to``, ``from``, ``subject``,
``content`` (``text/plain`` first, then ``text/html``), ``custom_args`` (the idempotency key,
for finding the mail in SendGrid's activity); a ``202 Accepted`` with ``X-Message-Id`` is a
success. The ``errors[].message`` of a 4xx are the detail of :class:`MailRejected`; 429, 5xx
and transport failures are :class:`MailUnavailable`. The HTTP client is passed in; SendGrid's
own SDK is not used (it wraps this one request and would be a second HTTP stack).
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import Any

import httpx

from vitco.integrations.mail.exceptions import MailRejected, MailUnavailable

BACKEND = "sendgrid"
DEFAULT_BASE_URL = "https://api.sendgrid.com"


def _address(text: str) -> dict[str, str]:
    name, addr = parseaddr(text)
    return {"email": addr, "name": name} if name else {"email": addr}


def payload(message: EmailMessage, key: str) -> dict[str, Any]:
    """The ``/v3/mail/send`` body for ``message``."""
    to = [
        {"email": a, **({"name": n} if n else {})}
        for n, a in getaddresses(message.get_all("To", []))
    ]
    content = []
    for subtype in ("plain", "html"):
        part = message.get_body((subtype,))
        if part is not None and part.get_content_type() == f"text/{subtype}":
            content.append({"type": f"text/{subtype}", "value": part.get_content()})
    body: dict[str, Any] = {
        "personalizations": [{"to": to}],
        "from": _address(str(message["From"])),
        "subject": str(message["Subject"]),
        "content": content,
        "custom_args": {"vitco_key": key[:200]},
    }
    if message["Reply-To"]:
        body["reply_to"] = _address(str(message["Reply-To"]))
    return body


class SendGridMailer:
    """Sends through SendGrid with ``client``; ``base_url`` is SendGrid's unless set."""

    def __init__(
        self, client: httpx.Client, api_key: str, base_url: str = DEFAULT_BASE_URL
    ) -> None:
        self.client = client
        self.api_key = api_key
        self.url = base_url.rstrip("/") + "/v3/mail/send"

    def send(self, message: EmailMessage, key: str) -> str:
        try:
            response = self.client.post(
                self.url,
                json=payload(message, key),
                headers={"Authorization": f"Bearer {self.api_key}"},
            )
        except httpx.HTTPError as exc:
            raise MailUnavailable(BACKEND, f"{type(exc).__name__}: {exc}") from exc
        if response.status_code in (200, 202):
            return f"sendgrid:{response.headers.get('X-Message-Id', '')}"
        detail = _errors(response)
        if response.status_code == 429 or response.status_code >= 500:
            raise MailUnavailable(BACKEND, f"{response.status_code} {detail}")
        raise MailRejected(BACKEND, response.status_code, detail)


def _errors(response: httpx.Response) -> str:
    """SendGrid's ``errors[].message`` (with ``field``), or the start of the body."""
    try:
        errors = response.json().get("errors") or []
        parts = [
            f"{e.get('message')}" + (f" ({e['field']})" if e.get("field") else "")
            for e in errors
            if isinstance(e, dict)
        ]
        if parts:
            return "; ".join(parts)[:500]
    except (ValueError, AttributeError):
        pass
    return response.text[:200] or response.reason_phrase
