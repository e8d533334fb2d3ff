"""Workers starting their first runs on a fresh PostgreSQL at once: each opens the checkpoint
saver, and LangGraph's table setup must not collide (it did: ``UniqueViolation`` on the
catalog for three of four). Four processes open it together on a fresh schema; all succeed
and the tables are there once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg

OPEN = """
import sys
from vitco.config import Settings
from vitco.workflow.checkpoints import open_checkpointer

with open_checkpointer(Settings(home=sys.argv[2], database_url=sys.argv[1])) as saver:
    print("ok")
"""


def test_fresh_checkpoint_tables_are_set_up_by_many_processes_at_once(
    postgres_url: str, tmp_path: Path
) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, postgres_url, str(tmp_path / f"h{i}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err[-800:] for _, err in results]
    assert all(out.strip() == "ok" for out, _ in results)
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    schema = plain.rsplit("search_path%3D", 1)[1]
    with psycopg.connect(plain.split("?")[0]) as conn:
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
        }
    assert {"checkpoints", "checkpoint_writes", "checkpoint_migrations"} <= tables
