"""Types for text that came from outside: a model's answer, a brief, a repository's files.

Every layer that keeps or shows such text validates it with these: ``Line`` for one line (a
title, an id, a path, an argument), ``Text`` for prose over several lines. They refuse the
characters that make text do something other than read: CR/LF header injection, ESC sequences
that retitle or rewrite a terminal, bidi overrides (U+202E) that make a file name read as
another, and zero-width characters that hide text (Unicode categories Cc, Cf, Zl and Zp).
The error names the character as a code point, so a model can repair its answer.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["Line", "Text", "refuse_controls"]

_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
# Every character outside printable ASCII is looked at; the rest cannot be a control.
_NOT_PLAIN = re.compile(r"[^\x20-\x7e]")


def refuse_controls(text: str, allowed: str, expected: str) -> str:
    for match in _NOT_PLAIN.finditer(text):
        char = match.group()
        if char in allowed or unicodedata.category(char) not in _REFUSED_CATEGORIES:
            continue
        name = unicodedata.name(char, "")
        raise ValueError(
            f"contains the control character U+{ord(char):04X}"
            f"{f' ({name})' if name else ''} at index {match.start()}; {expected}"
        )
    return text


def _single_line(text: str) -> str:
    return refuse_controls(text, "", "write one line of plain text without it")


def _prose(text: str) -> str:
    return refuse_controls(
        text, "\n\t", "only line breaks (U+000A) and tabs (U+0009) are allowed; remove it"
    )


Line = Annotated[str, AfterValidator(_single_line)]
"""One line of text: no character of Unicode categories Cc, Cf, Zl or Zp (so no CR, LF, ESC,
NUL, bidi override or zero-width character). For titles, ids, paths and argv items."""

Text = Annotated[str, AfterValidator(_prose)]
"""Prose over several lines: like ``Line``, but line feeds (U+000A) and tabs are allowed.
A CR is still refused: CRLF is how a header is injected, and a lone CR rewrites a terminal line."""
