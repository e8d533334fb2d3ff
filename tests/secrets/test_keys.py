"""Where the master key comes from: the setting, else (embedded) a 0600 file made once; a
shared database without a key, a key file others may read or a symlink are refused."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vitco.secrets import MasterKey, MasterKeyError, load_master_key


def test_the_setting_wins(tmp_path: Path) -> None:
    key = MasterKey.generate()
    assert load_master_key(key.text(), tmp_path, embedded=True) == key
    assert not (tmp_path / "master.key").exists()


def test_embedded_makes_the_key_file_once_with_mode_0600(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = load_master_key(None, home, embedded=True)
    path = home / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_master_key(None, home, embedded=True) == first  # read back, not remade
    assert MasterKey.parse(path.read_text(), "file") == first


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    load_master_key(None, tmp_path, embedded=True)
    (tmp_path / "master.key").chmod(0o644)
    with pytest.raises(MasterKeyError) as raised:
        load_master_key(None, tmp_path, embedded=True)
    assert "644" in raised.value.problem and raised.value.fix.startswith("chmod 600")


def test_a_symlinked_key_file_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "planted"
    elsewhere.write_text(MasterKey.generate().text())
    os.chmod(elsewhere, 0o600)
    home = tmp_path / "home"
    home.mkdir()
    (home / "master.key").symlink_to(elsewhere)
    with pytest.raises(MasterKeyError, match="cannot read it"):
        load_master_key(None, home, embedded=True)


def test_a_shared_database_needs_the_setting(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError) as raised:
        load_master_key(None, tmp_path, embedded=False)
    assert raised.value.source == "VITCO_MASTER_KEY" and "every host" in raised.value.fix
    assert not (tmp_path / "master.key").exists()
