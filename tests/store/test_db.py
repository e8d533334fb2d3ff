"""The cheap check of the schema's revision agrees with Alembic's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vitco.config import Settings
from vitco.store import open_store
from vitco.store.db import _scripts, newest_revision


def test_the_file_named_head_is_alembics_head() -> None:
    head, known = _scripts()
    assert newest_revision() == head
    assert len(known) == len(
        list(Path(__file__).parents[2].glob("src/vitco/store/migrations/versions/0*.py"))
    )


def test_opening_a_store_at_head_imports_no_alembic(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    open_store(settings).projects()  # migrated here, in this process
    code = (
        "import sys; from vitco.config import Settings; from vitco.store import open_store; "
        f"open_store(Settings(home={str(settings.home)!r})).projects(); "
        "print('alembic' in sys.modules)"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "False"
