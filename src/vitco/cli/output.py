"""Shared CLI output: human text through rich, ``--json`` as one object on stdout, errors.

Known errors (a bad brief, no model, a cassette that does not match, no sandbox) end the command
with a one-line message naming what is wrong and exit code 1; usage errors (a missing argument,
an unknown option, a bad value) with exit code 2. With ``--json`` either is printed on stdout as
one object of the shape :class:`ErrorJSON`, so scripts can read it::

    {"status": "error", "code": "NotFound", "error": "no run r-x", "hint": null}

``code`` is ``"usage"`` for a usage error, else the name of vitco's error type (``"error"`` when
there is none); ``hint`` is the fix when one is known.

Every ``vitco`` call imports the whole ``vitco.cli`` package just to build its commands, so
no CLI module imports anything heavy at module level (the store, the workflow, providers):
commands import what they use inside their function; ``tests/cli/test_imports.py`` holds this.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console, ConsoleDimensions
from typing_extensions import TypedDict  # pydantic validates it on Python 3.11 (tests)

if TYPE_CHECKING:
    from pathlib import Path

    from vitco.config import Settings
    from vitco.store import Store
    from vitco.store.models import Run

# Wide enough that no line of ours is ever wrapped, small enough that rich's layout stays cheap.
PIPE_WIDTH = 10_000


class PipeConsole(Console):
    """A console that wraps nothing when its stream is not a terminal.

    Piped output is read by programs and pasted into files: a Mermaid chart, a path or an id
    broken at 80 columns (rich's default off a terminal, or the width of whichever other stream
    is a terminal) is broken for them. Off a terminal, lines are as long as they are and tables
    take their natural width; on a terminal, rich's own width rules apply.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._chosen_width = kwargs.get("width") is not None  # not rich's reading of $COLUMNS

    @property
    def size(self) -> ConsoleDimensions:
        if self.is_terminal or self._chosen_width:
            return super().size
        return ConsoleDimensions(PIPE_WIDTH, super().size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


console = PipeConsole()
err_console = PipeConsole(stderr=True)

JSON_META = "vitco.json"
"""``typer.Context.meta`` key: the command line asked for ``--json``."""
_verbosity = 0


class ErrorJSON(TypedDict):
    """What every error looks like under ``--json`` (the one schema)."""

    status: str  # always "error"
    code: str
    error: str
    hint: str | None


def verbosity() -> int:
    """-1 under ``vitco --quiet``, 0 by default, N under N ``-v`` (0 outside a command)."""
    return _verbosity


def set_verbosity(level: int) -> None:
    """Set by the root command from ``-q`` / ``-v`` for the command it runs, reset after."""
    global _verbosity
    _verbosity = level


def emit_json(data: Any) -> None:
    """Print one JSON object on stdout (plain, never styled)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def fail(message: str, *, as_json: bool, hint: str | None = None, code: str = "error") -> NoReturn:
    """End the command with exit code 1: the message (and its fix) on stderr, or under
    ``--json`` the :class:`ErrorJSON` object on stdout."""
    if as_json:
        emit_json(ErrorJSON(status="error", code=code, error=message, hint=hint))
    else:
        err_console.print(f"[bold red]error:[/] {message}", highlight=False)
        if hint:
            err_console.print(hint, highlight=False)
    raise typer.Exit(1)


def usage_error(exc: typer.TyperException) -> None:
    """Print click's error (typer vendors click: its ``ClickException`` is a
    ``TyperException``) as the :class:`ErrorJSON` object, code ``"usage"`` for a usage error
    (exit code 2); the hint is the command's usage line and where its help is."""
    hint = None
    ctx: Any = getattr(exc, "ctx", None)  # the command's context, when click knows it
    if ctx is not None:
        hint = f"{ctx.get_usage()}\nTry '{ctx.command_path} -h' for help."
    code = "usage" if exc.exit_code == 2 else "error"
    emit_json(ErrorJSON(status="error", code=code, error=exc.format_message(), hint=hint))


def known_error_types() -> tuple[type[Exception], ...]:
    """The roots of vitco's own error trees (imported when an error is being handled: the
    store's and the sandbox's packages are not cheap to import)."""
    from vitco.agents.exceptions import AgentError
    from vitco.jobs.exceptions import QueueError
    from vitco.llm.exceptions import LLMError
    from vitco.sandbox.exceptions import SandboxError
    from vitco.secrets.exceptions import SecretsError
    from vitco.store.exceptions import StoreError
    from vitco.workflow.exceptions import WorkflowError

    return (LLMError, AgentError, WorkflowError, SandboxError, StoreError, SecretsError, QueueError)


@contextmanager
def known_errors(as_json: bool) -> Iterator[None]:
    """Turn vitco's own errors into a clear message and exit code 1."""
    try:
        yield
    except known_error_types() as exc:  # evaluated only once something was raised
        if verbosity() > 0:  # vitco -v: where it was raised, too
            err_console.print_exception()
        fail(str(exc), as_json=as_json, hint=getattr(exc, "fix", None), code=type(exc).__name__)


def load_settings(as_json: bool = False, *, config_file: Path | None = None) -> Settings:
    """The settings (with ``config_file`` when one is named, e.g. by ``--config``); a bad
    variable or model configuration file ends the command naming it."""
    from vitco.config import Settings
    from vitco.llm.exceptions import ModelConfigError

    try:
        return Settings() if config_file is None else Settings(config_file=config_file)
    except ModelConfigError as exc:  # names the file, the key and the problem
        fail(str(exc), as_json=as_json)
    except ValueError as exc:  # pydantic's ValidationError names the variable
        fail(f"invalid configuration: {exc}", as_json=as_json)


def store_of(settings: Settings) -> Store:
    """``vitco.store.open_store``, imported only when a command needs the store (``--help``
    and commands that don't use it stay fast)."""
    from vitco.store import open_store

    return open_store(settings)


def project_and_run(store: Store, ident: str) -> tuple[str, Run | None]:
    """A project id for ``ident``, a project id (``p-...``) or a run id (``r-...``), whole or
    a unique prefix, with that run; ``NotFound`` names an unknown one (``AmbiguousId`` the
    candidates of a prefix)."""
    if ident.startswith("r-"):
        run = store.get_run(store.resolve_id("run", ident))
        return run.project_id, run
    return store.resolve_id("project", ident), None
