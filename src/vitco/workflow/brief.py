"""Reading a client's brief: a Markdown file, optionally with a small front matter block.

::

    ---
    client: Jane Doe <jane@example.com>
    ---
    # Todo API
    ...

The format is documented for users in ``docs/briefs.md``. A brief without a client is
delivered without a mail, and says so (``BriefText.warnings``), as does a front matter field
vitco does not read (a typo such as ``cleint:`` would otherwise go unnoticed).

The client and the title are one line of plain text each: they reach the delivery mail's
headers (``To``, ``Subject``) and the terminal. A control character in them is refused with
``BadBriefField``: any Unicode ``Cc`` or ``Cf`` (CR, LF, ESC, NUL, the bidi override U+202E, a
zero-width space) and the line and paragraph separators. Lines end at a line feed only (CRLF
files work), so a vertical tab, NEL (U+0085) or U+2028 cannot hide a second line inside a
field, as they would with ``str.splitlines``. The body is free text.
"""

from __future__ import annotations

import re
import unicodedata
from email.utils import parseaddr
from pathlib import Path

from pydantic import BaseModel

from vitco.workflow.exceptions import BadBrief, BadBriefField

MAX_BRIEF_BYTES = 200_000
FIELDS = {"client": "who the delivery mail goes to: Name <address>"}
"""The front matter fields vitco reads, with what each is for."""
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp"})
"""Unicode categories refused in a one-line field: controls, formats, line/paragraph separators."""


class BriefText(BaseModel):
    source: str
    title: str
    text: str
    client_name: str = ""
    client_email: str = ""  # empty: the brief names no client, and no mail is sent
    warnings: list[str] = []


def _lines(text: str) -> list[str]:
    """Lines ended by a line feed (or CRLF); unlike ``str.splitlines``, nothing else ends one."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _one_line(value: str, field: str, source: str) -> str:
    for position, char in enumerate(value):
        if unicodedata.category(char) in _UNSAFE:
            raise BadBriefField(source, field, char, position)
    return value


def parse_brief(text: str, source: str) -> BriefText:
    fields: dict[str, str] = {}
    match = _FRONT.match(text)
    if match:
        for line in _lines(match.group(1)):
            name, sep, value = line.partition(":")
            if sep:
                fields[name.strip().lower()] = value.strip()
        text = text[match.end() :]
    text = text.strip()
    if not text:
        raise BadBrief(source, "it is empty; write what the client wants built")
    heading = next((ln.lstrip("# ").strip() for ln in _lines(text) if ln.strip()), "")
    _one_line(heading, "title", source)
    warnings = [
        f"front matter field {name!r} is not one vitco reads (it reads: {', '.join(FIELDS)}); "
        "it is ignored"
        for name in fields
        if name not in FIELDS
    ]
    name = email = ""
    if "client" in fields:
        name, email = parseaddr(_one_line(fields["client"], "client", source))
        if "@" not in email:
            raise BadBrief(source, f"client {fields['client']!r} has no e-mail address")
    else:
        warnings.append(
            "it names no client, so no delivery mail will be sent; add front matter "
            "'client: Name <address>' (see docs/briefs.md)"
        )
    return BriefText(
        source=source,
        title=heading[:200] or "Untitled project",
        text=text,
        client_name=name or email,
        client_email=email,
        warnings=warnings,
    )


def load_brief(path: Path) -> BriefText:
    """Read and check a brief; ``BadBrief`` says what is wrong with it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BadBrief(str(path), "no such file") from None
    except IsADirectoryError:
        raise BadBrief(str(path), "is a directory, not a file") from None
    except OSError as exc:
        raise BadBrief(str(path), f"cannot read it ({exc.strerror})") from None
    if len(raw) > MAX_BRIEF_BYTES:
        raise BadBrief(str(path), f"is {len(raw)} bytes; the limit is {MAX_BRIEF_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBrief(str(path), "is not UTF-8 text") from None
    return parse_brief(text, str(path))
