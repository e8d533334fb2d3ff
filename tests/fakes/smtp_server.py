"""A real SMTP server on 127.0.0.1 (aiosmtpd) with STARTTLS required and AUTH PLAIN/LOGIN, for
the SMTP adapter's tests: its certificate is self-signed, made per test with ``cryptography``
for ``127.0.0.1``, and ``ca`` is the PEM a client must trust to reach it."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.processes import free_port


def self_signed(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A key and a self-signed certificate for ``host`` (an IP address SAN), as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vitco test smtp")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = directory / "smtp.key", directory / "smtp.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.server.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        )
        return "250 OK"


class SmtpServer:
    """aiosmtpd on 127.0.0.1: STARTTLS required (``require_tls``), AUTH with ``users``."""

    def __init__(
        self,
        directory: Path,
        users: dict[str, str],
        *,
        require_tls: bool = True,
        offer_tls: bool = True,
    ) -> None:
        key, cert = self_signed(directory)
        self.ca = cert
        self.users = users
        self.received: list[tuple[str, list[str], bytes]] = []
        self.logins: list[str] = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.port = free_port()
        self.controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context if offer_tls else None,
            require_starttls=require_tls and offer_tls,
            authenticator=self._authenticate,
            auth_required=bool(users),
            auth_require_tls=offer_tls,
        )
        self.controller.start()

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            user, password = data.login.decode(), data.password.decode()
            if self.users.get(user) == password:
                self.logins.append(user)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(raw, policy=policy.default) for _, _, raw in self.received]

    def close(self) -> None:
        self.controller.stop()
