"""Writes ``slugkit-library.jsonl``: a library delivered with the ``python-library`` toolchain
(a wheel built offline, HTML docs, an import check from a fresh environment; no DevOps call).
Hand-written answers. Run ``python examples/cassettes/build_slugkit_library.py``."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from cassette import APPROVE, SOUND, call, w, write  # noqa: E402

SPEC = {
    "title": "slugkit",
    "summary": "A Python library, installable as a package with HTML docs, that turns titles "
    "into URL slugs and makes them unique.",
    "user_stories": [
        {
            "id": "S1",
            "story": "As a web developer, I want to turn a title into a slug, so that URLs are "
            "readable.",
            "acceptance_criteria": [
                "slugify('Hello, World!') == 'hello-world'",
                "slugify('Café crème') == 'cafe-creme' (accents dropped, ASCII only)",
                "slugify('a b', separator='_') == 'a_b'",
                "slugify('The quick brown fox', max_length=12) == 'the-quick' (cut at a word "
                "boundary)",
                "no separator at either end, never two in a row",
            ],
        },
        {
            "id": "S2",
            "story": "As a web developer, I want a slug that is not taken yet, so that two "
            "articles with one title get different URLs.",
            "acceptance_criteria": [
                "unique_slug('Hello', set()) == 'hello'",
                "unique_slug('Hello', {'hello', 'hello-2'}) == 'hello-3'",
            ],
        },
    ],
    "out_of_scope": ["transliteration of non-Latin scripts"],
}

PLAN = {
    "toolchain": "python-library",
    "tasks": [
        {
            "id": "T1",
            "title": "slugify and unique_slug",
            "description": "Create the slugkit package: slugkit/__init__.py exporting slugify("
            "text, separator='-', max_length=None) and unique_slug(title, taken, separator='-'),"
            " implemented in slugkit/core.py with docstrings; pyproject.toml for setuptools.",
            "complexity": 3,
            "depends_on": [],
            "stories": ["S1", "S2"],
        }
    ],
}

PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "slugkit"
version = "1.0.0"
description = "Readable, unique URL slugs from titles."
requires-python = ">=3.10"

[tool.setuptools]
packages = ["slugkit"]
"""

INIT = '''"""slugkit: readable, unique URL slugs from titles.

>>> slugify("Hello, World!")
'hello-world'
"""

from slugkit.core import slugify, unique_slug

__all__ = ["slugify", "unique_slug"]
'''

CORE = '''"""Turning titles into slugs."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def slugify(text: str, separator: str = "-", max_length: int | None = None) -> str:
    """A URL slug of ``text``: lower-case ASCII words joined by ``separator``.

    Accents are dropped (``"Café"`` becomes ``"cafe"``); every other run of characters that is
    not a letter or a digit becomes one separator. With ``max_length`` the slug is cut at the
    last word boundary that fits (or hard, if the first word alone is longer).
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = [w for w in _NOT_WORD.split(ascii_text.lower()) if w]
    slug = separator.join(words)
    if max_length is not None and len(slug) > max_length:
        cut = slug[: max_length + 1]
        boundary = cut.rfind(separator)
        slug = cut[:boundary] if boundary > 0 else slug[:max_length]
    return slug


def unique_slug(title: str, taken: Container[str], separator: str = "-") -> str:
    """``slugify(title)``, with ``-2``, ``-3``, ... added until it is not in ``taken``."""
    base = slugify(title, separator)
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}{separator}{n}", n + 1
    return slug
'''

TESTS = """import pytest

from slugkit import slugify, unique_slug


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Hello, World!", "hello-world"),
        ("Café crème", "cafe-creme"),
        ("  --Spaces and   dashes--  ", "spaces-and-dashes"),
        ("", ""),
    ],
)
def test_slugify(title, slug):
    assert slugify(title) == slug


def test_separator():
    assert slugify("a b", separator="_") == "a_b"


def test_max_length_cuts_at_a_word_boundary():
    assert slugify("The quick brown fox", max_length=12) == "the-quick"


def test_max_length_cuts_a_long_first_word_hard():
    assert slugify("Supercalifragilistic", max_length=5) == "super"


def test_unique_slug():
    assert unique_slug("Hello", set()) == "hello"
    assert unique_slug("Hello", {"hello", "hello-2"}) == "hello-3"
"""

CALLS = [
    call("analyst", "analyze", SPEC),
    call("reviewer", "check_spec", SOUND),
    call("manager", "plan", PLAN),
    call(
        "developer",
        "implement",
        {
            "files": [
                w("pyproject.toml", PYPROJECT),
                w("slugkit/__init__.py", INIT),
                w("slugkit/core.py", CORE),
                w("README.md", "# slugkit\n\n`slugify(title)` and `unique_slug(title, taken)`.\n"),
            ],
            "message": "Add slugify and unique_slug",
        },
        "T1",
    ),
    call("reviewer", "review", APPROVE, "T1"),
    call("qa", "write_tests", {"files": [w("tests/test_slugkit.py", TESTS)]}, "T1"),
]


def main() -> None:
    write(
        HERE / "slugkit-library.jsonl",
        "examples/briefs/slugkit-library.md",
        CALLS,
        "hand-written answers for the python-library toolchain; see build_slugkit_library.py",
    )


if __name__ == "__main__":
    main()
