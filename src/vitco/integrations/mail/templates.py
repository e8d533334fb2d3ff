"""The mails vitco sends, as Jinja2 templates: a plain-text and an HTML body per kind
(``templates/<kind>.txt.j2`` and ``templates/<kind>.html.j2``) and a one-line subject.

HTML is autoescaped (a title or a summary with ``<script>`` arrives as text); the plain-text
body is not escaped. Every value must be given (``StrictUndefined``: a missing one is a
:class:`TemplateError`, not a blank), and headers are built by ``email.message``, which refuses
a line break in a value, so a subject or name cannot smuggle a header in.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from functools import cache
from typing import Any, Literal, get_args

import jinja2

from vitco.integrations.mail.exceptions import TemplateError

MailKind = Literal["accepted", "plan_ready", "needs_attention", "delivered", "invoice"]
KINDS: tuple[MailKind, ...] = get_args(MailKind)

SUBJECTS: dict[MailKind, str] = {
    "accepted": "Accepted: {{ title }}",
    "plan_ready": "Plan ready: {{ title }}",
    "needs_attention": "Needs attention: {{ title }}",
    "delivered": "Delivered: {{ title }}",
    "invoice": "{% if checkout %}Payment for{% else %}Invoice {{ invoice_id }}:{% endif %} "
    "{{ title }}",
}
SENDER = formataddr(("vitco delivery", "delivery@vitco.local"))
KIND_HEADER = "X-Vitco-Mail"
"""The header naming a mail's kind (``accepted``, ``delivered``...): a client's filter and the
tests tell mails apart by it, not by a subject a title can imitate."""


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("vitco.integrations.mail", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(kind: MailKind, context: Mapping[str, Any]) -> tuple[str, str, str]:
    """The subject, plain text and HTML of ``kind`` with ``context``."""
    if kind not in KINDS:
        raise TemplateError(str(kind), f"no such mail; known: {', '.join(KINDS)}")
    for name, value in context.items():
        if name.endswith("_url") and value is not None and not _web_url(value):
            raise TemplateError(kind, f"{name} is not an http(s) URL: {str(value)[:80]!r}")
    env = environment()
    try:
        subject = env.from_string(SUBJECTS[kind]).render(context)
        text = env.get_template(f"{kind}.txt.j2").render(context)
        html = env.get_template(f"{kind}.html.j2").render(context)
    except jinja2.UndefinedError as exc:
        raise TemplateError(kind, exc.message or "a value is missing") from exc
    except jinja2.TemplateError as exc:
        raise TemplateError(kind, str(exc)) from exc
    return subject, text, html


def _web_url(value: object) -> bool:
    return (
        isinstance(value, str)
        and value.startswith(("https://", "http://"))
        and (not any(c.isspace() or c in "<>\"'" for c in value))
    )


def compose(
    kind: MailKind,
    context: Mapping[str, Any],
    *,
    to: tuple[str, str],
    sender: str = SENDER,
    message_id: str | None = None,
) -> EmailMessage:
    """The message of ``kind`` to ``to`` (name, address): plain text with an HTML
    alternative. ``message_id`` seeds a stable Message-ID (the run id: a resent mail is
    recognisably the same one)."""
    subject, text, html = render(kind, context)
    name, address = to
    message = EmailMessage()
    try:
        message["From"] = sender
        message["To"] = Address(display_name=name, addr_spec=address)
        message["Subject"] = subject
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise TemplateError(kind, f"bad header value: {exc}") from exc
    message["Message-ID"] = make_msgid(idstring=message_id, domain="vitco.local")
    message[KIND_HEADER] = kind
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
