"""`vitco secrets set | list | delete | rotate` as a user runs them: the value from standard
input, sealed in the database, never printed; rotation to a new master key."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner, Result

from vitco.cli.app import app
from vitco.secrets import MasterKey


def vitco(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="vitco", env=env, input=stdin)


def _rows(home: Path) -> list[str]:
    with sqlite3.connect(home / "vitco.sqlite") as db:
        return [row[0] for row in db.execute("SELECT value FROM tenant_secrets")]


def test_set_list_delete_never_print_the_value(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"VITCO_HOME": str(home)}
    made = vitco("secrets", "set", "github_token", "--json", env=env, stdin="ghp_Planted123456\n")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["scheme"] == "v1" and "Planted" not in made.stdout
    assert (home / "master.key").stat().st_mode & 0o777 == 0o600  # embedded: made once
    [sealed] = _rows(home)
    assert sealed.startswith("v1:") and "Planted" not in sealed

    listed = vitco("secrets", "list", "--json", env=env)
    assert listed.exit_code == 0, listed.output
    assert [(r["tenant"], r["kind"], r["name"]) for r in json.loads(listed.stdout)["secrets"]] == [
        ("default", "secret", "github_token")
    ]
    table = vitco("secrets", "list", env=env)
    assert "github_token" in table.stdout and "Planted" not in table.stdout + listed.stdout

    assert vitco("secrets", "delete", "github_token", env=env).exit_code == 0
    assert _rows(home) == []
    gone = vitco("secrets", "delete", "github_token", "--json", env=env)
    assert gone.exit_code == 1 and json.loads(gone.stdout)["code"] == "NotFound"


def test_bad_names_values_and_tenants_are_refused(tmp_path: Path) -> None:
    env = {"VITCO_HOME": str(tmp_path / "home")}
    for name in ("../x", "a b", "x" * 101, "x:y", ".hidden"):
        result = vitco("secrets", "set", name, "--json", env=env, stdin="v\n")
        assert result.exit_code == 1 and "secret name" in json.loads(result.stdout)["error"]
    empty = vitco("secrets", "set", "token", "--json", env=env, stdin="")
    assert empty.exit_code == 1 and "no value" in json.loads(empty.stdout)["error"]
    nobody = vitco("secrets", "set", "token", "--tenant", "ghost", "--json", env=env, stdin="v\n")
    assert nobody.exit_code == 1 and json.loads(nobody.stdout)["code"] == "NotFound"


def test_rotate_rewraps_under_the_new_master_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    old, new = MasterKey.generate(), MasterKey.generate()
    with_old = {"VITCO_HOME": str(home), "VITCO_MASTER_KEY": old.text()}
    assert (
        vitco("secrets", "set", "stripe_key", env=with_old, stdin="sk_test_kept\n").exit_code == 0
    )
    with_new = {"VITCO_HOME": str(home), "VITCO_MASTER_KEY": new.text()}

    refused = vitco("secrets", "rotate", "--json", env=with_new)
    assert refused.exit_code == 1
    error = json.loads(refused.stdout)
    assert error["code"] == "WrongMasterKey" and "VITCO_MASTER_KEY_OLD" in error["hint"]

    key_file = tmp_path / "old.key"
    key_file.write_text(old.text() + "\n")
    done = vitco("secrets", "rotate", "--old-key-file", str(key_file), "--json", env=with_new)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {
        "master_id": new.id,
        "rewrapped": 1,
        "current": 0,
        "resealed": 0,
    }
    again = vitco(
        "secrets", "rotate", "--json", env={**with_new, "VITCO_MASTER_KEY_OLD": old.text()}
    )
    assert json.loads(again.stdout)["rewrapped"] == 0 and json.loads(again.stdout)["current"] == 1
