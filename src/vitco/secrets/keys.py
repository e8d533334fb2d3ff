"""Where the master key comes from: ``VITCO_MASTER_KEY`` (base64 of 32 bytes), else, in the
embedded mode only, ``<home>/master.key``, made once with mode 0600 on first use.

Distributed mode (a ``VITCO_DATABASE_URL``) has no such file: several hosts share the database,
so they must share the key, and a key made on one host would leave the others unable to read
what it sealed; there an unset key is a :class:`MasterKeyError` at the first secret used.
A key file that others may read is refused rather than used (it unlocks every tenant's secrets).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from vitco.secrets.crypto import MasterKey
from vitco.secrets.exceptions import MasterKeyError

KEY_FILE = "master.key"


def load_master_key(value: str | None, home: Path, *, embedded: bool) -> MasterKey:
    """The master key: ``value`` (the setting) when given, else the data dir's key file
    (embedded mode; created when missing), else :class:`MasterKeyError`."""
    if value:
        return MasterKey.parse(value, "VITCO_MASTER_KEY")
    if not embedded:
        raise MasterKeyError(
            "VITCO_MASTER_KEY",
            "not set, and a shared database needs one key shared by every host",
            "set VITCO_MASTER_KEY to 32 random bytes in base64 on every host "
            '(python -c "import base64,os; print(base64.b64encode(os.urandom(32)).decode())")',
        )
    return _key_file(home / KEY_FILE)


def _key_file(path: Path) -> MasterKey:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fresh = MasterKey.generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return _read_key_file(path)
    with os.fdopen(fd, "w") as f:
        f.write(fresh.text() + "\n")
        f.flush()
        os.fsync(f.fileno())
    return fresh


def _read_key_file(path: Path) -> MasterKey:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise MasterKeyError(
            str(path), f"cannot read it ({exc.strerror})", "make it a regular file vitco owns"
        ) from exc
    with os.fdopen(fd) as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise MasterKeyError(str(path), "not a regular file", "remove it")
        if info.st_mode & 0o077:
            raise MasterKeyError(
                str(path),
                f"others may read it (mode {stat.S_IMODE(info.st_mode):o})",
                f"chmod 600 {path}",
            )
        text = f.read()
    if not text.strip():  # another process is writing it this instant
        raise MasterKeyError(str(path), "empty", "remove it if no vitco is starting")
    return MasterKey.parse(text, str(path))
