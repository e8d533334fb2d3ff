"""A repository map: the tree of files with their sizes and top-level symbols, bounded.

The map is what a role sees of a repository too big to show whole: every file's path and size
and what it declares (``symbols``), in at most ``MAX_MAP_CHARS`` characters whatever the
repository's size. When the full map does not fit, it degrades in steps: symbols only for the
files that fit, then paths without symbols, then folders summarized at a shallower depth; it
always says how many files it covers, so a reader knows to ask for more (the developer's
``list`` tool).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import PurePosixPath

from vitco.context.snapshot import Snapshot
from vitco.context.symbols import is_source, symbols

MAX_MAP_CHARS = 16_000
"""Characters of one repository map (about 4,000 tokens)."""
MAX_SCAN_BYTES = 8_000_000
"""Source bytes read for symbols per map; the rest of a huge repository is listed by path."""
MAX_ENTRY_CHARS = 400


def human(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.1f} KB"


def scanned_sources(snapshot: Snapshot, paths: Iterable[str] | None = None) -> dict[str, str]:
    """The texts of the source files among ``paths`` (default: all), up to
    ``MAX_SCAN_BYTES`` in all: what is searched for symbols and routes."""
    budget, chosen = MAX_SCAN_BYTES, []
    for path in snapshot.paths() if paths is None else paths:
        size = snapshot.size(path)
        if is_source(path) and 0 <= size <= budget:
            chosen.append(path)
            budget -= size
    return snapshot.texts(chosen)


def _entries(snapshot: Snapshot, paths: list[str], scan: bool) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    if scan:
        found = {p: symbols(p, text) for p, text in scanned_sources(snapshot, paths).items()}
    lines = {}
    for path in paths:
        line = f"{path} ({human(snapshot.size(path))})"
        if found.get(path):
            line += ": " + "; ".join(found[path])
        lines[path] = line if len(line) <= MAX_ENTRY_CHARS else line[: MAX_ENTRY_CHARS - 3] + "..."
    return lines


def _folded(snapshot: Snapshot, paths: list[str], depth: int) -> list[str]:
    """Files up to ``depth`` folders deep by name; deeper ones counted per folder."""
    shown: list[tuple[str, str]] = []
    folders: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        parts = PurePosixPath(path).parts
        if len(parts) - 1 <= depth:
            shown.append((path, f"{path} ({human(snapshot.size(path))})"))
        else:
            folders["/".join(parts[: depth + 1]) + "/"].append(path)
    for folder, inside in folders.items():
        total = sum(max(snapshot.size(p), 0) for p in inside)
        shown.append((folder, f"{folder} ... {len(inside)} more files ({human(total)})"))
    return [line for _key, line in sorted(shown)]


def repository_map(
    snapshot: Snapshot, *, first: Iterable[str] = (), budget: int = MAX_MAP_CHARS
) -> str:
    """The map of ``snapshot`` in at most ``budget`` characters; the ``first`` paths (those a
    task names) keep their symbols whatever else has to go."""
    paths = snapshot.paths()
    if not paths:
        return ""
    total = sum(max(snapshot.size(p), 0) for p in paths)
    header = f"{len(paths)} files, {human(total)} in all (path, size: top-level symbols)"
    room = budget - len(header) - 1
    lines = _entries(snapshot, paths, scan=True)
    if sum(len(v) + 1 for v in lines.values()) <= room:
        return "\n".join([header, *lines.values()])
    # Symbols for the named files, paths for the rest; then folders folded ever shallower.
    named = {p for p in first if p in lines}
    plain = _entries(snapshot, paths, scan=False)
    mixed = [lines[p] if p in named else plain[p] for p in paths]
    if sum(len(v) + 1 for v in mixed) <= room:
        return "\n".join([header, *mixed])
    keep = [lines[p] for p in paths if p in named]
    room -= sum(len(v) + 1 for v in keep)
    deepest = max(len(PurePosixPath(p).parts) for p in paths)
    for depth in range(deepest - 1, -1, -1):
        folded = _folded(snapshot, [p for p in paths if p not in named], depth)
        if sum(len(v) + 1 for v in folded) <= room:
            return "\n".join([header, *keep, *folded])
    cut = _folded(snapshot, [p for p in paths if p not in named], 0)
    out, used = [header, *keep], 0
    for line in cut:
        if used + len(line) + 1 > room - 60:
            out.append(f"... and {len(cut) - (len(out) - 1 - len(keep))} more entries")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)
