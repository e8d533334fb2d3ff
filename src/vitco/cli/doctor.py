"""`vitco doctor`: placeholder, replaced by the sandbox work."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the doctor command to the app."""

    @app.command()
    def doctor() -> None:
        """Check that this machine can run vitco."""
