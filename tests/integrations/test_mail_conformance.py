"""One conformance suite for ``Mailer`` as ``vitco.bootstrap.build_mailer`` builds it from the
settings: the outbox alone, SMTP to a real aiosmtpd server on 127.0.0.1 (STARTTLS with a
self-signed certificate made here, AUTH), and SendGrid against the in-repo fake of its v3 API.
Whatever the backend, every mail lands in the outbox, a key is sent once, every template
arrives as plain text with an HTML alternative, and a failure is typed and loses nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.fakes.sendgrid_server import FakeSendGrid
from tests.fakes.smtp_server import SmtpServer
from vitco.bootstrap import build_mailer
from vitco.config import Settings
from vitco.integrations.mail import (
    KIND_HEADER,
    KINDS,
    Mailer,
    MailKind,
    MailNotRelayed,
    MailRejected,
    MailUnavailable,
    TemplateError,
    compose,
)

SENDGRID_KEY = "SG.test-key.0123456789abcdef"
SMTP_USER, SMTP_PASSWORD = "vitco", "s3cret-smtp-password"

CONTEXTS: dict[MailKind, dict[str, Any]] = {
    "accepted": {"client_name": "Ada", "title": "Todo API", "project_id": "p-1", "run_id": "r-1"},
    "plan_ready": {
        "client_name": "Ada",
        "title": "Todo API",
        "run_id": "r-1",
        "estimate_usd": 1.5,
        "waits": "approval",
        "tasks": [
            {"title": "Models", "role": "developer", "complexity": 3},
            {"title": "Routes", "role": "developer", "complexity": 5},
        ],
    },
    "needs_attention": {
        "client_name": "Ada",
        "title": "Todo API",
        "run_id": "r-1",
        "reason": "budget exceeded: $2.00 of $2.00 spent",
        "gate": False,
        "ended": False,
    },
    "delivered": {
        "client_name": "Ada",
        "title": "Todo API",
        "summary": "A todo service.",
        "repo": "/r",
        "branch": "main",
        "tag": "delivered",
        "tests": "3 passed",
        "delivery": "serving",
        "how_to_run": ["git clone /r"],
        "usd": 0.5,
        "calls": 3,
        "input_tokens": 1000,
        "output_tokens": 200,
        "run_id": "r-1",
    },
    "invoice": {
        "client_name": "Ada",
        "title": "Todo API",
        "invoice_id": "in_1",
        "checkout": False,
        "currency": "USD",
        "lines": [{"description": "Delivery of Todo API", "amount": "12.00"}],
        "total": "12.00",
        "pay_url": "https://pay.example/in_1",
    },
}


@dataclass(frozen=True)
class Got:
    """One mail as the backend received it."""

    subject: str
    to: str
    plain: str
    html: str


@dataclass
class Backend:
    name: str
    settings: Settings
    received: Callable[[], list[Got]]
    server: Any = None

    @property
    def mailer(self) -> Mailer:
        return build_mailer(self.settings)

    def outbox(self) -> list[Path]:
        return sorted(self.settings.outbox_dir.glob("*.eml"))


def _parse(raw: bytes) -> Got:
    message: Any = message_from_bytes(raw, policy=policy.default)
    return Got(
        str(message["Subject"]),
        str(message["To"].addresses[0].addr_spec),
        message.get_body(("plain",)).get_content(),
        message.get_body(("html",)).get_content(),
    )


def _from_sendgrid(body: dict[str, Any]) -> Got:
    content = {c["type"]: c["value"] for c in body["content"]}
    return Got(
        body["subject"],
        body["personalizations"][0]["to"][0]["email"],
        content["text/plain"],
        content["text/html"],
    )


@pytest.fixture(params=["outbox", "smtp", "sendgrid"])
def backend(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> Iterator[Backend]:
    if request.param == "outbox":
        yield Backend(
            "outbox",
            settings,
            lambda: [_parse(p.read_bytes()) for p in sorted(settings.outbox_dir.glob("*.eml"))],
        )
    elif request.param == "smtp":
        server = SmtpServer(tmp_path / "tls", {SMTP_USER: SMTP_PASSWORD})
        try:
            configured = settings.model_copy(
                update={
                    "mail_backend": "smtp",
                    "smtp_host": "127.0.0.1",
                    "smtp_port": server.port,
                    "smtp_ca_file": server.ca,
                    "smtp_username": SMTP_USER,
                    "smtp_password": SecretStr(SMTP_PASSWORD),
                    "smtp_timeout_s": 10.0,
                }
            )
            yield Backend(
                "smtp", configured, lambda: [_parse(raw) for _, _, raw in server.received], server
            )
        finally:
            server.close()
    else:
        with FakeSendGrid(SENDGRID_KEY) as fake:
            configured = settings.model_copy(
                update={
                    "mail_backend": "sendgrid",
                    "sendgrid_api_key": SecretStr(SENDGRID_KEY),
                    "sendgrid_base_url": fake.base_url,
                }
            )
            yield Backend(
                "sendgrid", configured, lambda: [_from_sendgrid(m) for m in fake.mails], fake
            )


def test_every_template_arrives_as_text_and_html_and_lands_in_the_outbox(backend: Backend) -> None:
    mailer = backend.mailer
    for kind in KINDS:
        message = compose(kind, CONTEXTS[kind], to=("Ada Lovelace", "ada@example.com"))
        assert mailer.send(message, key=f"r-1/{kind}")
    got = backend.received()
    assert len(got) == len(KINDS) and len(backend.outbox()) == len(KINDS)
    subjects = sorted(g.subject for g in got)
    assert subjects == sorted(
        [
            "Accepted: Todo API",
            "Plan ready: Todo API",
            "Needs attention: Todo API",
            "Delivered: Todo API",
            "Invoice in_1: Todo API",
        ]
    )
    for g in got:
        assert g.to == "ada@example.com"
        assert "Hello Ada" in g.plain and "<p>Hello Ada" in g.html and "<" not in g.plain
    invoice = next(g for g in got if g.subject.startswith("Invoice"))
    assert "Total: 12.00 USD" in invoice.plain and 'href="https://pay.example/in_1"' in invoice.html
    plan = next(g for g in got if g.subject.startswith("Plan"))
    assert "2. Routes (developer, complexity 5)" in plan.plain and "vitco approve r-1" in plan.plain


def test_every_mail_names_its_kind_and_a_checkout_is_no_invoice() -> None:
    for kind in KINDS:
        message = compose(kind, CONTEXTS[kind], to=("Ada", "ada@example.com"))
        assert message[KIND_HEADER] == kind
    checkout = compose("invoice", {**CONTEXTS["invoice"], "checkout": True},
                       to=("Ada", "ada@example.com"))  # fmt: skip
    assert checkout["Subject"] == "Payment for Todo API"
    text = checkout.get_body(("plain",))
    assert text is not None and "invoice in_1" not in str(text.get_content())
    gate = compose("needs_attention", {**CONTEXTS["needs_attention"], "gate": True},
                   to=("Ada", "ada@example.com"))  # fmt: skip
    body = gate.get_body(("plain",))
    assert body is not None and "It waits for a decision: vitco approve r-1" in body.get_content()


def test_a_key_is_sent_once(backend: Backend) -> None:
    message = compose("accepted", CONTEXTS["accepted"], to=("Ada", "ada@example.com"))
    first = backend.mailer.send(message, key="r-1/accepted")
    again = build_mailer(backend.settings).send(message, key="r-1/accepted")  # another process
    assert first == again
    assert len(backend.received()) == 1 and len(backend.outbox()) == 1
    backend.mailer.send(message, key="r-2/accepted")
    assert len(backend.received()) == 2 and len(backend.outbox()) == 2


def test_hostile_values_cannot_add_headers_or_markup(backend: Backend) -> None:
    smuggled = {**CONTEXTS["accepted"], "title": "x\r\nBcc: evil@attacker.example"}
    with pytest.raises(TemplateError, match="bad header value"):
        compose("accepted", smuggled, to=("Ada", "ada@example.com"))
    with pytest.raises(TemplateError):
        compose("accepted", CONTEXTS["accepted"], to=("Ada\r\nBcc: e@x.example", "ada@example.com"))
    with pytest.raises(TemplateError, match="pay_url"):
        compose(
            "invoice",
            {**CONTEXTS["invoice"], "pay_url": "javascript:alert(1)"},
            to=("Ada", "ada@example.com"),
        )
    with pytest.raises(TemplateError, match="project_id"):  # a missing value is no blank
        compose(
            "accepted",
            {"client_name": "Ada", "title": "T", "run_id": "r"},
            to=("Ada", "ada@example.com"),
        )
    script = {**CONTEXTS["accepted"], "title": "<script>alert(1)</script>"}
    backend.mailer.send(compose("accepted", script, to=("Ada", "ada@example.com")), key="k")
    [got] = backend.received()
    assert "<script>" not in got.html and "&lt;script&gt;" in got.html
    assert "<script>alert(1)</script>" in got.plain  # text is text
    assert backend.outbox() and len(backend.received()) == 1  # nothing else went out


def test_smtp_refuses_a_server_without_starttls_before_any_credential(
    settings: Settings, tmp_path: Path
) -> None:
    server = SmtpServer(tmp_path / "tls", {}, offer_tls=False)
    try:
        mailer = build_mailer(
            settings.model_copy(
                update={
                    "mail_backend": "smtp",
                    "smtp_host": "127.0.0.1",
                    "smtp_port": server.port,
                    "smtp_username": SMTP_USER,
                    "smtp_password": SecretStr(SMTP_PASSWORD),
                }
            )
        )
        message = compose("accepted", CONTEXTS["accepted"], to=("Ada", "ada@example.com"))
        with pytest.raises(MailNotRelayed) as raised:
            mailer.send(message, key="k")
        assert isinstance(raised.value.cause, MailRejected) and "STARTTLS" in str(raised.value)
        assert server.received == [] and server.logins == []
        assert Path(raised.value.path).is_file()  # kept in the outbox
    finally:
        server.close()


def test_smtp_refuses_an_untrusted_certificate_and_a_wrong_password(
    settings: Settings, tmp_path: Path
) -> None:
    server = SmtpServer(tmp_path / "tls", {SMTP_USER: SMTP_PASSWORD})
    base = {
        "mail_backend": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": server.port,
        "smtp_username": SMTP_USER,
    }
    message = compose("accepted", CONTEXTS["accepted"], to=("Ada", "ada@example.com"))
    try:
        untrusted = build_mailer(
            settings.model_copy(update={**base, "smtp_password": SecretStr(SMTP_PASSWORD)})
        )
        with pytest.raises(MailNotRelayed) as raised:
            untrusted.send(message, key="k1")
        assert isinstance(raised.value.cause, MailRejected)
        assert "certificate not trusted" in str(raised.value.cause)
        wrong = build_mailer(
            settings.model_copy(
                update={
                    **base,
                    "smtp_ca_file": server.ca,
                    "smtp_password": SecretStr("wrong-password"),
                }
            )
        )
        with pytest.raises(MailNotRelayed) as raised:
            wrong.send(message, key="k2")
        cause = raised.value.cause
        assert isinstance(cause, MailRejected) and cause.status == 535
        assert "wrong-password" not in str(raised.value)
        assert server.received == []
        # fixed, the same key goes out (the outbox file was kept, it is not written twice)
        right = build_mailer(
            settings.model_copy(
                update={
                    **base,
                    "smtp_ca_file": server.ca,
                    "smtp_password": SecretStr(SMTP_PASSWORD),
                }
            )
        )
        assert right.send(message, key="k2").startswith("smtp:<")
        assert len(server.received) == 1 and server.logins == [SMTP_USER]
        assert len(list(settings.outbox_dir.glob("*.eml"))) == 2
    finally:
        server.close()


def test_smtp_down_is_unavailable(settings: Settings, tmp_path: Path) -> None:
    server = SmtpServer(tmp_path / "tls", {})
    port = server.port
    server.close()
    mailer = build_mailer(
        settings.model_copy(
            update={"mail_backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port}
        )
    )
    with pytest.raises(MailNotRelayed) as raised:
        mailer.send(compose("accepted", CONTEXTS["accepted"], to=("A", "a@example.com")), "k")
    assert isinstance(raised.value.cause, MailUnavailable)


def test_sendgrid_errors_are_typed_with_the_vendors_message(settings: Settings) -> None:
    message = compose("accepted", CONTEXTS["accepted"], to=("Ada", "ada@example.com"))
    with FakeSendGrid(SENDGRID_KEY) as fake:
        wrong = build_mailer(
            settings.model_copy(
                update={
                    "mail_backend": "sendgrid",
                    "sendgrid_api_key": SecretStr("SG.wrong.key-value"),
                    "sendgrid_base_url": fake.base_url,
                }
            )
        )
        with pytest.raises(MailNotRelayed) as raised:
            wrong.send(message, key="k")
        cause = raised.value.cause
        assert isinstance(cause, MailRejected) and cause.status == 401
        assert "authorization grant is invalid" in cause.detail
        assert "SG.wrong" not in str(raised.value)

        right = build_mailer(
            settings.model_copy(
                update={
                    "mail_backend": "sendgrid",
                    "sendgrid_api_key": SecretStr(SENDGRID_KEY),
                    "sendgrid_base_url": fake.base_url,
                }
            )
        )
        fake.fail_next(503)
        with pytest.raises(MailNotRelayed) as raised:
            right.send(message, key="k")
        assert isinstance(raised.value.cause, MailUnavailable)
        assert right.send(message, key="k").startswith("sendgrid:")  # retried: sent once
        assert len(fake.mails) == 1 and fake.mails[0]["custom_args"] == {"vitco_key": "k"}
        assert [c["type"] for c in fake.mails[0]["content"]] == ["text/plain", "text/html"]
        headers, _ = fake.requests[-1]
        assert headers["authorization"] == f"Bearer {SENDGRID_KEY}"


def test_a_backend_without_its_settings_is_refused_when_settings_load() -> None:
    with pytest.raises(ValueError, match="VITCO_SMTP_HOST"):
        Settings(mail_backend="smtp")
    with pytest.raises(ValueError, match="VITCO_SENDGRID_API_KEY"):
        Settings(mail_backend="sendgrid")
