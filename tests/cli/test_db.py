"""`vitco db upgrade | current` as an operator types them, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import text
from typer.testing import CliRunner, Result

from tests.store.test_store import _head_revision
from vitco.cli import db
from vitco.store.db import create


@pytest.fixture
def app() -> typer.Typer:
    """A typer app with only the ``db`` group (the real app registers it the same way)."""
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """Keeps ``db`` a group of its own, as under the real app."""

    db.register(app)
    return app


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        "VITCO_HOME": str(tmp_path / "home"),
        "VITCO_DATABASE_URL": database_url,
        "COLUMNS": "200",
    }


def vitco(app: typer.Typer, env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def as_json(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_current_upgrade_current(app: typer.Typer, env: dict[str, str]) -> None:
    head = _head_revision()

    behind = vitco(app, env, "db", "current", "--json")
    assert behind.exit_code == 1
    assert as_json(behind) | {"database": None} == {
        "status": "behind",
        "database": None,
        "current": None,
        "head": head,
        "at_head": False,
    }

    upgraded = vitco(app, env, "db", "upgrade", "--json")
    assert upgraded.exit_code == 0, upgraded.output
    assert (as_json(upgraded)["before"], as_json(upgraded)["after"]) == (None, head)
    assert as_json(upgraded)["upgraded"] is True

    again = vitco(app, env, "db", "upgrade", "--json")
    assert again.exit_code == 0
    assert (as_json(again)["before"], as_json(again)["upgraded"]) == (head, False)

    current = vitco(app, env, "db", "current", "--json")
    assert current.exit_code == 0
    assert (as_json(current)["current"], as_json(current)["at_head"]) == (head, True)


def test_human_output_names_the_revisions_and_the_fix(
    app: typer.Typer, env: dict[str, str]
) -> None:
    head = _head_revision()

    behind = vitco(app, env, "db", "current")
    assert behind.exit_code == 1
    assert "(empty)" in behind.stdout and head in behind.stdout
    assert "vitco db upgrade" in behind.stdout

    upgraded = vitco(app, env, "db", "upgrade")
    assert upgraded.exit_code == 0
    assert f"upgraded (empty) -> {head}" in upgraded.stdout

    again = vitco(app, env, "db", "upgrade")
    assert f"already at {head}" in again.stdout


@pytest.mark.postgres
def test_the_shown_database_url_hides_the_password(
    app: typer.Typer, tmp_path: Path, postgres_url: str
) -> None:
    secret = postgres_url.replace("postgres@", "postgres:s3cret@")  # trust auth ignores it
    env = {"VITCO_HOME": str(tmp_path / "home"), "VITCO_DATABASE_URL": secret}

    result = vitco(app, env, "db", "upgrade", "--json")

    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.stdout
    assert "postgres:***@" in as_json(result)["database"]


def test_a_database_migrated_by_a_newer_vitco_is_an_error_with_its_fix(
    app: typer.Typer, env: dict[str, str], database_url: str
) -> None:
    assert vitco(app, env, "db", "upgrade").exit_code == 0
    engine = create(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999_newer'"))
    finally:
        engine.dispose()

    for command in ("current", "upgrade"):
        result = vitco(app, env, "db", command, "--json")
        assert result.exit_code == 1
        error = as_json(result)
        assert "'9999_newer'" in error["error"] and "Upgrade vitco" in error["error"]
        assert "upgrade vitco" in error["hint"]
