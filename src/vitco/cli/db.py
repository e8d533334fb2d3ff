"""`vitco db upgrade | current`: the database schema, migrated on purpose.

vitco migrates its database on first use, under a lock every process and host respects. Where
many hosts share one PostgreSQL database, operators may rather migrate once, before starting
them, with ``vitco db upgrade``, and check with ``vitco db current`` (exit code 1 while the
schema is behind this vitco, so a deploy script can wait on it).
"""

from __future__ import annotations

from typing import Annotated

import typer

from vitco.cli.output import console, emit_json, known_errors, load_settings

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def _shown(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="The database schema: upgrade it, show its revision.")
    app.add_typer(sub, name="db")

    @sub.command()
    def upgrade(as_json: JsonOpt = False) -> None:
        """Migrate the database to this vitco's newest revision; print it before and after.

        Waits while another process migrates it; at the newest revision already, changes nothing.
        """
        from vitco.store.db import migrate, open_engine

        settings = load_settings(as_json)
        settings.ensure_dirs()  # the data dir (0700) before SQLite puts a file in it
        url = settings.resolved_database_url
        with known_errors(as_json):
            done = migrate(open_engine(url))
        if as_json:
            emit_json(
                {
                    "status": "ok",
                    "database": _shown(url),
                    "before": done.before,
                    "after": done.after,
                    "upgraded": done.upgraded,
                }
            )
            return
        console.print(f"database {_shown(url)}", highlight=False)
        if done.upgraded:
            console.print(f"upgraded {done.before or '(empty)'} -> {done.after}", highlight=False)
        else:
            console.print(f"already at {done.after}, nothing to do", highlight=False)

    @sub.command()
    def current(as_json: JsonOpt = False) -> None:
        """Print the database's revision and this vitco's newest; exit 1 while it is behind."""
        from vitco.store.db import open_engine, schema_revision

        settings = load_settings(as_json)
        settings.ensure_dirs()
        url = settings.resolved_database_url
        with known_errors(as_json):
            revision = schema_revision(open_engine(url))
        if as_json:
            emit_json(
                {
                    "status": "ok" if revision.at_head else "behind",
                    "database": _shown(url),
                    "current": revision.current,
                    "head": revision.head,
                    "at_head": revision.at_head,
                }
            )
        else:
            console.print(f"database {_shown(url)}", highlight=False)
            console.print(f"current  {revision.current or '(empty)'}", highlight=False)
            console.print(f"head     {revision.head}", highlight=False)
            if not revision.at_head:
                console.print("behind: run [cyan]vitco db upgrade[/]", highlight=False)
        if not revision.at_head:
            raise typer.Exit(1)
