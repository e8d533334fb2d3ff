"""The ``vitco`` command: one typer app; each command group lives in its own module."""

from __future__ import annotations

import typer

from vitco.cli import (
    budget,
    costs,
    db,
    doctor,
    durable,
    models,
    run,
    sandbox,
    status,
    worker,
    workflow,
)

app = typer.Typer(
    name="vitco",
    help="vitco: a virtual IT company in a box. A team of AI agents turns a brief into a "
    "tested, deployed project.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

run.register(app)
status.register(app)
durable.register(app)
workflow.register(app)
worker.register(app)
sandbox.register(app)
doctor.register(app)
models.register(app)
costs.register(app)
budget.register(app)
db.register(app)


def main() -> None:
    """Console-script entry point. Ctrl-C before or after a run (a run handles its own: it
    stops as ``interrupted``) ends quietly with exit status 130, no traceback."""
    import sys

    try:
        app()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
