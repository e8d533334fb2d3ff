"""Reading a deployed app's log: what ``vitco deployments logs`` and the API show.

The log is the app's stdout and stderr, appended through a descriptor into a directory vitco
owns (``sandbox.listener``), so the path is vitco's; its content is the app's, hostile. It is
opened without following a link, read from the end only (bounded), decoded with replacement,
and every control character but newline and tab is shown escaped (``\\x1b``), so an app cannot
rewrite the reader's terminal.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

MAX_BYTES = 1 << 20
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def shown(text: str) -> str:
    """``text`` with every control character escaped (newlines and tabs stay)."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def tail(path: Path | None, lines: int = 100, max_bytes: int = MAX_BYTES) -> list[str]:
    """The last ``lines`` lines of the log (at most ``max_bytes`` read), made safe to show;
    none when there is no log (yet)."""
    if path is None:
        return []
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        size = os.fstat(fd).st_size
        start = max(0, size - max_bytes)
        data = os.pread(fd, size - start, start)
    finally:
        os.close(fd)
    text = data.decode("utf-8", errors="replace")
    kept = text.splitlines()[-lines:] if lines > 0 else []
    if start > 0 and len(kept) == len(text.splitlines()):
        kept = kept[1:]  # the first line was cut by the byte bound
    return [shown(line) for line in kept]
