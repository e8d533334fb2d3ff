"""Shared CLI output: human text through rich, ``--json`` as one object on stdout, errors.

Known errors (a bad brief, no model, a cassette that does not match, no sandbox) end the command
with a one-line message naming what is wrong and exit code 1; with ``--json`` the same message is
printed as ``{"status": "error", "error": ...}`` on stdout so scripts can read it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console

from vitco.agents.exceptions import AgentError
from vitco.config import Settings
from vitco.llm.exceptions import LLMError
from vitco.sandbox.exceptions import SandboxError
from vitco.store.exceptions import StoreError
from vitco.workflow.exceptions import WorkflowError

KNOWN_ERRORS = (LLMError, AgentError, WorkflowError, SandboxError, StoreError)

console = Console()
err_console = Console(stderr=True)


def emit_json(data: Any) -> None:
    """Print one JSON object on stdout (plain, never styled)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def fail(message: str, *, as_json: bool, hint: str | None = None) -> NoReturn:
    if as_json:
        emit_json({"status": "error", "error": message, "hint": hint})
    else:
        err_console.print(f"[bold red]error:[/] {message}", highlight=False)
        if hint:
            err_console.print(hint, highlight=False)
    raise typer.Exit(1)


@contextmanager
def known_errors(as_json: bool) -> Iterator[None]:
    """Turn vitco's own errors into a clear message and exit code 1."""
    try:
        yield
    except KNOWN_ERRORS as exc:
        fail(str(exc), as_json=as_json, hint=getattr(exc, "fix", None))


def load_settings(as_json: bool = False) -> Settings:
    try:
        return Settings()
    except ValueError as exc:  # pydantic's ValidationError names the variable
        fail(f"invalid configuration: {exc}", as_json=as_json)
