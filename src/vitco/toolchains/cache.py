"""What the host fetched for projects, kept once per content in a directory vitco owns.

A fill runs in a fresh temporary directory beside its destination and is renamed into place
only when it succeeded, so a crash or a failed fetch never leaves a half-filled entry that a
later run would take for whole; two processes filling the same entry at once both succeed
(the second's copy is dropped). Everything in an entry is made readable by every uid (the
projects' sandboxes read it), never writable.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def filled_once(root: Path, key: str, fill: Callable[[Path], None]) -> Path:
    """``root/key``, made by ``fill(tmp_dir)`` the first time it is asked for."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    dest = root / key
    if dest.is_dir() and not dest.is_symlink():
        return dest
    tmp = Path(tempfile.mkdtemp(prefix=".fill-", dir=root))
    try:
        fill(tmp)
        for folder, dirs, files in os.walk(tmp):
            for name in (*dirs, *files):
                path = Path(folder) / name
                if not path.is_symlink():
                    path.chmod(0o755 if path.is_dir() else 0o644)
        tmp.chmod(0o755)
        try:
            tmp.rename(dest)
        except OSError:  # filled by another process meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
