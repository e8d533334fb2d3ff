"""Reading a brief: the client and the title are one line of plain text; the body is free."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path

import pytest

from vitco.workflow.brief import load_brief, parse_brief
from vitco.workflow.exceptions import BadBrief, BadBriefField


def brief(client: str, title: str = "Todo API", body: str = "A small todo API.\n") -> str:
    return f"---\nclient: {client}\n---\n# {title}\n\n{body}"


@pytest.mark.parametrize(
    ("client", "code_point"),
    [
        ("Eve <eve@x.com>\x0bBcc: a@b.com", "U+000B"),  # str.splitlines would end the line here
        ("Eve <eve@x.com>\x85Bcc: a@b.com", "U+0085"),
        ("Eve <eve@x.com>\u2028Bcc: a@b.com", "U+2028"),
        ("Eve <eve@x.com>\u2029Bcc: a@b.com", "U+2029"),
        ("Eve <eve@x.com>\rBcc: a@b.com", "U+000D"),  # a CR that does not end the line
        ("Eve\x1b[2J <eve@x.com>", "U+001B"),
        ("Eve\x00 <eve@x.com>", "U+0000"),
        ("Eve \u202egro.live <eve@x.com>", "U+202E"),
        ("Eve <eve\x1b@x.com>", "U+001B"),  # in the address, too
        ("Eve\tSmith <eve@x.com>", "U+0009"),
        ("E\u200bve <eve@x.com>", "U+200B"),  # zero-width: hides text
    ],
)
def test_a_control_character_in_the_client_is_refused_naming_field_and_code_point(
    client: str, code_point: str
) -> None:
    with pytest.raises(BadBriefField) as info:
        parse_brief(brief(client), "brief.md")
    error = info.value
    assert (error.field, error.code_point) == ("client", code_point)
    assert isinstance(error, BadBrief) and error.path == "brief.md"
    assert f"the client holds the control character {code_point}" in str(error)
    assert "plain text on one line" in str(error)  # and how to fix it


@pytest.mark.parametrize(
    ("title", "code_point"),
    [
        ("Todo \x1b[31mAPI\x1b[0m", "U+001B"),
        ("Todo\x0bBcc: a@b.com", "U+000B"),
        ("Todo\u2028API", "U+2028"),
        ("Todo \u202eIPA", "U+202E"),
        ("Todo\x00API", "U+0000"),
    ],
)
def test_a_control_character_in_the_title_is_refused(title: str, code_point: str) -> None:
    with pytest.raises(BadBriefField) as info:
        parse_brief(brief("Eve <eve@x.com>", title=title), "brief.md")
    assert (info.value.field, info.value.code_point) == ("title", code_point)
    assert "title" in str(info.value) and code_point in str(info.value)


def test_the_smuggled_bcc_is_refused_when_read_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "brief.md"
    path.write_bytes(brief("Eve <eve@x.com>\x0bBcc: victim@example.org").encode())
    with pytest.raises(BadBriefField, match=r"U\+000B"):
        load_brief(path)


def test_a_plain_brief_still_reads_with_crlf_line_ends_and_a_free_body() -> None:
    body = "Line one.\r\n\tIndented\x0cpage break, a \x1b escape even: the body is free text.\r\n"
    text = brief("Jane Doe <jane@example.com>", body=body).replace("\n", "\r\n")
    parsed = parse_brief(text, "brief.md")
    assert (parsed.client_name, parsed.client_email, parsed.title) == (
        "Jane Doe",
        "jane@example.com",
        "Todo API",
    )
    assert "page break" in parsed.text
    message = EmailMessage()  # what the delivery step does with them
    message["To"] = formataddr((parsed.client_name, parsed.client_email))
    message["Subject"] = f"Delivered: {parsed.title}"
    assert b"To: Jane Doe <jane@example.com>\n" in bytes(message)


def test_a_brief_without_a_client_warns_that_no_mail_will_be_sent() -> None:
    parsed = parse_brief("# Todo API\n\nA small todo API.\n", "brief.md")
    assert (parsed.client_name, parsed.client_email) == ("", "")
    (warning,) = parsed.warnings
    assert "names no client" in warning and "no delivery mail" in warning
    assert "client: Name <address>" in warning and "docs/briefs.md" in warning
    assert "example.com" not in parsed.model_dump_json()


def test_a_front_matter_field_vitco_does_not_read_is_named() -> None:
    parsed = parse_brief("---\ncleint: Eve <eve@x.com>\n---\n# Todo API\n\nIt.\n", "brief.md")
    assert any("'cleint' is not one vitco reads (it reads: client)" in w for w in parsed.warnings)
    assert any("names no client" in w for w in parsed.warnings)
    assert parse_brief(brief("Eve <eve@x.com>"), "brief.md").warnings == []
