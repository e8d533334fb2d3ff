"""Writes ``wordcount-cli.jsonl``: a command-line tool delivered with the ``python-cli``
toolchain (installed with pip, checked by invoking the command). Hand-written answers, as a
capable model would give them. Run ``python examples/cassettes/build_wordcount_cli.py``."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from cassette import APPROVE, SOUND, call, w, write  # noqa: E402

SPEC = {
    "title": "wordcount",
    "summary": "A command-line tool, installable with pip, that counts the lines, words and "
    "characters of standard input or of files, with a total for several files.",
    "user_stories": [
        {
            "id": "S1",
            "story": "As an editor, I want to count lines, words and characters of text, so "
            "that I know how long it is.",
            "acceptance_criteria": [
                "wordcount with 'one two\\nthree\\n' on stdin prints '2 3 14'",
                "wordcount a.txt b.txt prints one line per file ending in its name and a "
                "'total' line",
                "--words prints only the word count",
                "a missing file is reported on stderr and the exit status is 1",
            ],
        }
    ],
    "out_of_scope": ["byte counts", "locales"],
}

PLAN = {
    "toolchain": "python-cli",
    "tasks": [
        {
            "id": "T1",
            "title": "Counting command",
            "description": "Create the wordcount package: wordcount/counting.py with count(text) "
            "returning (lines, words, chars); wordcount/cli.py with main(argv) that reads stdin "
            "or files, prints 'LINES WORDS CHARS [NAME]' lines and a total, supports --words, "
            "reports missing files on stderr and returns 1; pyproject.toml declaring the "
            "wordcount console script.",
            "complexity": 3,
            "depends_on": [],
            "stories": ["S1"],
        }
    ],
}

PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "wordcount"
version = "1.0.0"
description = "Count lines, words and characters."
requires-python = ">=3.10"

[project.scripts]
wordcount = "wordcount.cli:main"

[tool.setuptools]
packages = ["wordcount"]
"""

COUNTING = '''"""Counting lines, words and characters."""


def count(text: str) -> tuple[int, int, int]:
    """(lines, words, characters) of ``text``; a last line without a newline still counts."""
    lines = text.count("\\n") + (1 if text and not text.endswith("\\n") else 0)
    return lines, len(text.split()), len(text)
'''

CLI = '''"""The wordcount command."""

from __future__ import annotations

import argparse
import sys

from wordcount.counting import count


def _line(counts: tuple[int, int, int], name: str | None, words_only: bool) -> str:
    text = str(counts[1]) if words_only else " ".join(str(n) for n in counts)
    return f"{text} {name}" if name else text


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns its exit status."""
    parser = argparse.ArgumentParser(
        prog="wordcount", description="Count lines, words and characters."
    )
    parser.add_argument("files", nargs="*", help="files to count (default: standard input)")
    parser.add_argument("--words", action="store_true", help="print only the word count")
    args = parser.parse_args(argv)
    if not args.files:
        print(_line(count(sys.stdin.read()), None, args.words))
        return 0
    status, total = 0, [0, 0, 0]
    for name in args.files:
        try:
            with open(name, encoding="utf-8") as fh:
                counts = count(fh.read())
        except OSError as exc:
            print(f"wordcount: {name}: {exc.strerror}", file=sys.stderr)
            status = 1
            continue
        total = [a + b for a, b in zip(total, counts)]
        print(_line(counts, name, args.words))
    if len(args.files) > 1:
        print(_line((total[0], total[1], total[2]), "total", args.words))
    return status


if __name__ == "__main__":
    sys.exit(main())
'''

MAIN = """from wordcount.cli import main

raise SystemExit(main())
"""

README = """# wordcount

Count lines, words and characters: `pip install .`, then `wordcount FILE...` or
`... | wordcount`; `--words` prints only the word count.
"""

TESTS = """import io

import pytest

from wordcount.cli import main
from wordcount.counting import count


def test_count_lines_words_chars():
    assert count("one two\\nthree\\n") == (2, 3, 14)


def test_a_last_line_without_newline_counts():
    assert count("a b") == (1, 2, 3)


def test_empty_text():
    assert count("") == (0, 0, 0)


def test_stdin(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("one two\\nthree\\n"))
    assert main([]) == 0
    assert capsys.readouterr().out == "2 3 14\\n"


def test_files_and_total(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("a b\\n")
    (tmp_path / "b.txt").write_text("c\\n")
    assert main([str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"1 2 4 {tmp_path / 'a.txt'}", f"1 1 2 {tmp_path / 'b.txt'}", "2 3 6 total"]


def test_words_only(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("one two three"))
    assert main(["--words"]) == 0
    assert capsys.readouterr().out == "3\\n"


def test_missing_file(tmp_path, capsys):
    assert main([str(tmp_path / "missing.txt")]) == 1
    assert "missing.txt" in capsys.readouterr().err
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
                w("wordcount/__init__.py", '"""Count lines, words and characters."""\n'),
                w("wordcount/counting.py", COUNTING),
                w("wordcount/cli.py", CLI),
                w("wordcount/__main__.py", MAIN),
                w("README.md", README),
            ],
            "message": "Add the wordcount command",
        },
        "T1",
    ),
    call("reviewer", "review", APPROVE, "T1"),
    call("qa", "write_tests", {"files": [w("tests/test_wordcount.py", TESTS)]}, "T1"),
    call(
        "devops",
        "deploy",
        {
            "checks": [
                {"argv": ["wordcount", "--help"], "expect_exit": 0, "expect_stdout": "usage"},
                {"argv": ["wordcount"], "stdin": "one two\nthree\n", "expect_stdout": "2 3 14"},
                {"argv": ["wordcount", "no-such-file.txt"], "expect_exit": 1},
            ]
        },
    ),
]


def main() -> None:
    write(
        HERE / "wordcount-cli.jsonl",
        "examples/briefs/wordcount-cli.md",
        CALLS,
        "hand-written answers for the python-cli toolchain; see build_wordcount_cli.py",
    )


if __name__ == "__main__":
    main()
