"""`vitco sandbox run`: run a command exactly as vitco runs delivered code.

Output streams as it comes; at the end a summary (on stderr) says the exit status and which
limit, if any, stopped the command. The exit code mirrors the command's (128+N if it was killed
by signal N). Exit code 2 means the sandbox itself could not run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from vitco.sandbox import Limits, Result

# Friendly names (the ones ``Result.limit_hit`` uses) for the ``Limits`` fields.
LIMIT_ALIASES = {
    "cpu": "cpu_s",
    "memory": "memory_mb",
    "processes": "processes",
    "open_files": "open_files",
    "file_size": "file_size_mb",
    "wall": "wall_s",
    "output": "output_bytes",
    "disk": "disk_mb",
}


def parse_limits(items: list[str]) -> Limits:
    """``["cpu=5", "memory_mb=512"]`` -> ``Limits``; names are aliases or field names."""
    from vitco.sandbox import Limits

    values: dict[str, float] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r}: expected NAME=VALUE", param_hint="--limit")
        field = LIMIT_ALIASES.get(name.strip(), name.strip())
        if field not in LIMIT_ALIASES.values():
            known = ", ".join(LIMIT_ALIASES)
            raise typer.BadParameter(
                f"unknown limit {name!r}; known: {known}", param_hint="--limit"
            )
        try:
            values[field] = float(raw)
        except ValueError:
            raise typer.BadParameter(f"{item!r}: not a number", param_hint="--limit") from None
    try:
        return Limits().with_overrides(**values)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--limit") from None


def exit_status(result: Result) -> int:
    """The command's exit code, or 128+N when signal N killed it."""
    if result.exit_code is not None:
        return result.exit_code
    return 128 + (result.signal or 0)


def _stream(name: str, chunk: bytes) -> None:
    out = sys.stdout.buffer if name == "stdout" else sys.stderr.buffer
    out.write(chunk)
    out.flush()


def register(app: typer.Typer) -> None:
    """Add the sandbox command group to the app."""
    sub = typer.Typer(help="Run commands exactly as vitco runs delivered code.")
    app.add_typer(sub, name="sandbox")

    @sub.command("run")
    def run(
        cmd: Annotated[list[str], typer.Argument(help="The command, after `--`.")],
        workspace: Annotated[
            Path, typer.Option("--workspace", "-C", help="Workspace dir (default: cwd).")
        ] = Path("."),
        limit: Annotated[
            list[str] | None,
            typer.Option(
                "--limit",
                "-l",
                help="NAME=VALUE, repeatable: cpu (s), memory (MiB), processes, open_files, "
                "file_size (MiB), wall (s), output (bytes), disk (MiB).",
            ),
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print one JSON object instead of streaming.")
        ] = False,
    ) -> None:
        """Run CMD in the sandbox: `vitco sandbox run -C DIR --limit cpu=5 -- pytest -q`."""
        from vitco.cli.output import load_settings
        from vitco.sandbox import SandboxError, get_sandbox

        limits = parse_limits(limit or [])
        err = Console(stderr=True)
        try:
            sandbox = get_sandbox(load_settings(as_json))
            result = sandbox.run(
                cmd,
                workspace,
                limits,
                on_output=None if as_json else _stream,
            )
        except SandboxError as exc:
            err.print(f"[bold red]sandbox error:[/] {exc}")
            raise typer.Exit(2) from None
        if as_json:
            payload = {
                "sandbox": sandbox.name,
                "exit_code": result.exit_code,
                "signal": result.signal,
                "limit_hit": result.limit_hit,
                "duration_s": round(result.duration_s, 4),
                "stdout": result.stdout,
                "stderr": result.stderr,
            }
            typer.echo(json.dumps(payload))
        else:
            how = (
                f"exit status {result.exit_code}"
                if result.exit_code is not None
                else f"killed by signal {result.signal}"
            )
            stopped = f"; stopped by the {result.limit_hit} limit" if result.limit_hit else ""
            style = "green" if result.ok else "bold red"
            err.print(
                f"[{style}]vitco sandbox ({sandbox.name}): {how}{stopped} "
                f"in {result.duration_s:.2f} s[/]"
            )
        raise typer.Exit(exit_status(result))
