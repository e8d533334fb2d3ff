"""The ``vitco`` command: one typer app; each command group lives in its own module.

The conventions every command shares are set here, once:

- ``-h`` as well as ``--help``, on every command (click passes ``help_option_names`` down);
- ``--version``; shell completion (``--install-completion``, ``--show-completion``);
- ``-v/--verbose`` and ``-q/--quiet`` before the command (``vitco -q run BRIEF``): more detail
  (vitco's log records and where an error was raised, on stderr; ``-vv`` adds the libraries'
  records) or only results and errors (no progress, no notes);
  :func:`vitco.cli.output.verbosity` tells a command which;
- a usage error (a missing argument, an unknown option, a bad value) of a command called with
  ``--json`` is printed as the one JSON error object (:data:`vitco.cli.output.ErrorJSON`) on
  stdout, with exit code 2, like every other error under ``--json``.

A short flag has one meaning in every command (``tests/cli/test_conventions.py`` holds it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from vitco.cli import (
    budget,
    costs,
    db,
    deployments,
    doctor,
    durable,
    init,
    logs,
    models,
    run,
    sandbox,
    secrets,
    serve,
    show,
    status,
    tenants,
    worker,
    workflow,
)
from vitco.cli.output import JSON_META, set_verbosity, usage_error
from vitco.cli.remote import set_server


def _wants_json(args: Sequence[str]) -> bool:
    """``--json`` among the options (not after ``--``, where a command's own argv starts)."""
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


class VitcoGroup(TyperGroup):
    """The root command: a usage error under ``--json`` becomes the JSON error object.

    Click raises usage errors while it parses (the root's options here, a command's in
    ``invoke``, where the command's context is made) and from a command's body
    (``typer.BadParameter``); both are turned into an ``Exit(2)`` after the JSON is printed,
    which click ends the same way whether or not it runs standalone.
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: Any = None,
        **extra: Any,
    ) -> Any:
        as_json = _wants_json(args)
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except typer.TyperException as exc:  # click's ClickException (typer vendors click)
            if not as_json:
                raise
            usage_error(exc)
            raise typer.Exit(exc.exit_code) from None
        ctx.meta[JSON_META] = as_json
        return ctx

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except typer.TyperException as exc:
            if not ctx.meta.get(JSON_META):
                raise
            usage_error(exc)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    name="vitco",
    cls=VitcoGroup,
    help="vitco: a virtual IT company in a box. A team of AI agents turns a brief into a "
    "tested, deployed project.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        import platform

        import vitco

        typer.echo(f"vitco {vitco.__version__} (Python {platform.python_version()})")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print vitco's version and exit."
        ),
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            help="More detail on stderr: vitco's log records (-vv: the libraries' too).",
        ),
    ] = 0,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Only results and errors: no progress, no notes."),
    ] = False,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            metavar="URL",
            help="Drive the vitco serve at URL instead of the local data dir (run, status, "
            "show, approve, reject, resume, costs); the key is VITCO_API_KEY. "
            "Default: VITCO_SERVER.",
        ),
    ] = None,
) -> None:
    """Global options; they go before the command: ``vitco -q run BRIEF``."""
    if verbose and quiet:
        raise typer.BadParameter("--verbose and --quiet exclude each other", param_hint="-v/-q")
    set_verbosity(-1 if quiet else verbose)
    ctx.call_on_close(lambda: set_verbosity(0))
    set_server(server)
    ctx.call_on_close(lambda: set_server(None))
    if verbose:
        _log_to_stderr(ctx, verbose)


def _log_to_stderr(ctx: typer.Context, verbose: int) -> None:
    """vitco's log records (``-vv``: every library's) on stderr, until the command ends."""
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root_logger, vitco_logger = logging.getLogger(), logging.getLogger("vitco")
    levels = root_logger.level, vitco_logger.level
    root_logger.addHandler(handler)
    root_logger.setLevel(logging.DEBUG if verbose > 1 else logging.WARNING)
    vitco_logger.setLevel(logging.DEBUG)

    def restore() -> None:
        root_logger.removeHandler(handler)
        root_logger.setLevel(levels[0])
        vitco_logger.setLevel(levels[1])

    ctx.call_on_close(restore)


run.register(app)
status.register(app)
show.register(app)
logs.register(app)
durable.register(app)
workflow.register(app)
worker.register(app)
sandbox.register(app)
doctor.register(app)
init.register(app)
models.register(app)
costs.register(app)
budget.register(app)
db.register(app)
serve.register(app)
tenants.register(app)
secrets.register(app)
deployments.register(app)


def main() -> None:
    """Console-script entry point. Ctrl-C before or after a run (a run handles its own: it
    stops as ``interrupted``) ends quietly with exit status 130, no traceback."""
    import sys

    try:
        app()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
