"""The developer's tools: list a folder, read a file from a line on, search for exact text.

They answer over a ``Snapshot`` (the task's files from git's objects plus its stored work), so
a path a model names is looked up in a listing and never opened on the host: no link the
sandbox planted can be followed, no file outside the repository named. Every answer is
bounded (``MAX_RESULT_CHARS``) and says how to get the rest.
"""

from __future__ import annotations

from collections import Counter
from pathlib import PurePosixPath

from vitco.agents.outputs import ToolCall
from vitco.context.repomap import human
from vitco.context.snapshot import Snapshot, normal

MAX_RESULT_CHARS = 16_000
"""Characters of one tool's answer (about 4,000 tokens)."""
MAX_MATCHES = 60
SEARCH_BYTES = 8_000_000
"""Bytes of text one search looks through."""


def run_tool(view: Snapshot, call: ToolCall) -> str:
    """The answer to one tool call, headed by the call itself."""
    if call.tool == "read":
        body = read(view, call.path, call.start)
        head = f"read {call.path} from line {call.start}"
    elif call.tool == "list":
        body, head = list_folder(view, call.path), f"list {call.path or '.'}"
    else:
        body = search(view, call.text, call.path)
        head = f"search {call.text!r}" + (f" in {call.path}" if call.path else "")
    return f"### {head}\n\n{body}"


def _bad(path: str) -> str | None:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts:
        return "paths are relative to the repository root, without '..'"
    return None


def read(view: Snapshot, path: str, start: int = 1) -> str:
    """Lines of ``path`` from ``start`` on, numbered, up to ``MAX_RESULT_CHARS``."""
    if problem := _bad(path):
        return f"error: {problem}"
    text = view.text(path)
    if text is None:
        kind = "is not a text file" if view.exists(path) else "does not exist"
        return f"error: {normal(path)} {kind} (use list to see the files)"
    lines = text.splitlines()
    if start > max(len(lines), 1):
        return f"error: {normal(path)} has {len(lines)} lines"
    out: list[str] = []
    used, end = 0, start - 1
    for number in range(start, len(lines) + 1):
        line = f"{number:>6}| {lines[number - 1]}"
        if used + len(line) + 1 > MAX_RESULT_CHARS and out:
            break
        out.append(line[:MAX_RESULT_CHARS])
        used += len(line) + 1
        end = number
    tail = (
        f"[lines {start}-{end} of {len(lines)}; read from line {end + 1} for more]"
        if end < len(lines)
        else f"[lines {start}-{end} of {len(lines)}: the end of the file]"
    )
    return "\n".join([*out, tail])


def list_folder(view: Snapshot, path: str = "") -> str:
    """The files directly in folder ``path`` with their sizes, and its sub-folders with how
    many files each holds."""
    if problem := _bad(path):
        return f"error: {problem}"
    prefix = normal(path).strip("/")
    prefix = "" if prefix in ("", ".") else prefix + "/"
    files, folders = [], Counter[str]()
    for p in view.paths():
        if not p.startswith(prefix):
            continue
        rest = p[len(prefix) :]
        if "/" in rest:
            folders[rest.split("/", 1)[0]] += 1
        else:
            files.append(f"{p} ({human(view.size(p))})")
    if not files and not folders:
        return f"error: no folder {path!r} (use list with an empty path for the root)"
    lines = [f"{prefix}{d}/ ({n} files)" for d, n in sorted(folders.items())] + files
    return _bounded(lines, "entries")


def search(view: Snapshot, text: str, path: str = "") -> str:
    """Lines holding ``text`` exactly, as ``path:line: content``, in files under ``path``."""
    if problem := _bad(path):
        return f"error: {problem}"
    prefix = normal(path).strip("/") if path else ""
    budget, chosen = SEARCH_BYTES, []
    for p in view.paths():
        if prefix and not (p == prefix or p.startswith(prefix + "/")):
            continue
        size = view.size(p)
        if 0 <= size <= budget:
            chosen.append(p)
            budget -= size
    hits: list[str] = []
    for p, content in view.texts(chosen).items():
        for number, line in enumerate(content.splitlines(), start=1):
            if text in line:
                hits.append(f"{p}:{number}: {line.strip()[:200]}")
    if not hits:
        return f"no line holds {text!r}"
    return _bounded(hits[:MAX_MATCHES], "matches", more=max(0, len(hits) - MAX_MATCHES))


def _bounded(lines: list[str], what: str, more: int = 0) -> str:
    out: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > MAX_RESULT_CHARS - 80:
            more += len(lines) - len(out)
            break
        out.append(line)
        used += len(line) + 1
    if more:
        out.append(f"[{more} more {what} not shown: narrow the path or the text]")
    return "\n".join(out)
