"""`vitco sandbox run`: placeholder, replaced by the sandbox work."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the sandbox command group to the app."""
    sub = typer.Typer(help="Run commands exactly as vitco runs delivered code.")
    app.add_typer(sub, name="sandbox")
