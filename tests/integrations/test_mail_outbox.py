"""The file outbox: one parseable .eml per idempotency key."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage
from pathlib import Path

from vitco.integrations.mail import Mailer, OutboxMailer


def _message(subject: str = "Delivered: Todo API", body: str = "Hello Ada,\n") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "vitco delivery <delivery@vitco.local>"
    message["To"] = "Ada Lovelace <ada@example.com>"
    message["Subject"] = subject
    message.set_content(body)
    return message


def test_the_outbox_writes_a_parseable_eml(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path / "outbox")
    body = "Hello Ada,\n\nyour project is délivered: http://127.0.0.1:8000\n" + "x" * 200 + "\n"

    where = mailer.send(_message(body=body), key="r-123/delivered")

    path = Path(where)
    assert path.parent == tmp_path / "outbox"
    assert path.suffix == ".eml"
    parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert parsed["To"] == "Ada Lovelace <ada@example.com>"
    assert parsed["Subject"] == "Delivered: Todo API"
    body_part = parsed.get_body(("plain",))
    assert body_part is not None
    assert body_part.get_content().replace("\r\n", "\n") == body  # .eml lines end in CRLF
    assert list((tmp_path / "outbox").iterdir()) == [path]  # no temporary file left


def test_sending_twice_with_one_key_writes_one_file(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path / "outbox")

    first = mailer.send(_message(subject="First"), key="r-1/delivered")
    second = mailer.send(_message(subject="Second"), key="r-1/delivered")
    other = mailer.send(_message(subject="Other"), key="r-2/delivered")

    assert first == second != other
    assert len(list((tmp_path / "outbox").iterdir())) == 2
    parsed = email.message_from_bytes(Path(first).read_bytes(), policy=policy.default)
    assert parsed["Subject"] == "First"


def test_keys_that_slug_alike_get_different_files(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path / "outbox")
    a = mailer.path_for("run/1")
    b = mailer.path_for("run:1")
    assert a != b
    assert a.parent == b.parent == tmp_path / "outbox"
    assert "/" not in a.name
    assert mailer.path_for("../../etc/passwd").parent == tmp_path / "outbox"


def test_the_outbox_is_a_mailer(tmp_path: Path) -> None:
    mailer: Mailer = OutboxMailer(tmp_path)
    assert Path(mailer.send(_message(), key="k")).is_file()
