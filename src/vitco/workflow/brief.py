"""Reading a client's brief: a Markdown file, optionally with a small front matter block.

::

    ---
    client: Jane Doe <jane@example.com>
    ---
    # Todo API
    ...
"""

from __future__ import annotations

import re
from email.utils import parseaddr
from pathlib import Path

from pydantic import BaseModel

from vitco.workflow.exceptions import BadBrief

MAX_BRIEF_BYTES = 200_000
DEFAULT_CLIENT = "Client <client@example.com>"
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)


class BriefText(BaseModel):
    source: str
    title: str
    text: str
    client_name: str
    client_email: str


def parse_brief(text: str, source: str) -> BriefText:
    fields: dict[str, str] = {}
    match = _FRONT.match(text)
    if match:
        for line in match.group(1).splitlines():
            name, sep, value = line.partition(":")
            if sep:
                fields[name.strip().lower()] = value.strip()
        text = text[match.end() :]
    text = text.strip()
    if not text:
        raise BadBrief(source, "it is empty; write what the client wants built")
    heading = next((ln.lstrip("# ").strip() for ln in text.splitlines() if ln.strip()), "")
    name, email = parseaddr(fields.get("client", DEFAULT_CLIENT))
    if "@" not in email:
        raise BadBrief(source, f"client {fields.get('client')!r} has no e-mail address")
    return BriefText(
        source=source,
        title=heading[:200] or "Untitled project",
        text=text,
        client_name=name or email,
        client_email=email,
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
