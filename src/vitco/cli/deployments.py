"""`vitco deployments list | stop | logs`: the apps `vitco serve` keeps up, from the host.

They read the data dir's store directly, whether or not `vitco serve` runs: `list` says when
it does not (the apps are down then, and come back when it starts again), `stop` marks a
deployment stopped (a running serve stops its app within a second, and no serve brings it
back until the project is deployed again), `logs` prints the end of the app's output.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from vitco.cli.output import console, emit_json, known_errors, load_settings, store_of

if TYPE_CHECKING:
    from vitco.config import Settings
    from vitco.store.deployments import DeploymentStore
    from vitco.store.models import Deployment

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
IdArg = Annotated[
    str,
    typer.Argument(
        metavar="DEPLOYMENT", help="A deployment id (d-...), its project's id, or a unique prefix."
    ),
]
STOP_WAIT_S = 10.0
DOWN = "down (vitco serve is not running)"


def _rows(as_json: bool) -> tuple[Settings, DeploymentStore]:
    from vitco.store.deployments import DeploymentStore

    settings = load_settings(as_json)
    with known_errors(as_json):
        return settings, DeploymentStore(store_of(settings).sessions)


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def row_json(row: Deployment, supervised: bool) -> dict[str, Any]:
    """A deployment as ``--json`` prints it: ``state`` is what is true now (``status``, or
    down while no serve runs)."""
    state = row.status if supervised or row.status == "stopped" else "down"
    return {
        "id": row.id,
        "project_id": row.project_id,
        "run_id": row.run_id,
        "url": row.url,
        "status": row.status,
        "state": state,
        "restarts": row.restarts,
        "last_error": row.last_error,
        "pid": row.pid if supervised else None,
        "created_at": _when(row.created_at),
        "started_at": _when(row.started_at),
        "stopped_at": _when(row.stopped_at),
    }


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Apps vitco serve keeps up, each at a stable URL: list them, stop one, read its log."
    )
    app.add_typer(group, name="deployments")

    @group.command("list")
    def list_deployments(as_json: JsonOpt = False) -> None:
        """List the deployments, newest first, with their URL and state."""
        from vitco.deployments import supervised

        settings, rows = _rows(as_json)
        up = supervised(settings)
        items = [row_json(row, up) for row in rows.all()]
        if as_json:
            emit_json({"supervised": up, "deployments": items})
            return
        if not items:
            console.print("no deployments: vitco serve keeps the apps its runs deliver")
            return
        table = Table(show_edge=False)
        for name in ("id", "project", "url", "state", "restarts", "run"):
            table.add_column(name, no_wrap=name in ("id", "url"), overflow="fold")
        for item in items:
            state = DOWN if item["state"] == "down" else item["state"]
            table.add_row(
                item["id"], item["project_id"], item["url"], state, str(item["restarts"]),
                item["run_id"],
            )  # fmt: skip
        console.print(table)
        if not up and any(i["state"] == "down" for i in items):
            console.print("vitco serve brings them back at the same URLs when it starts.")

    @group.command("stop")
    def stop(ident: IdArg, as_json: JsonOpt = False) -> None:
        """Stop a deployment's app; it stays stopped until its project is deployed again."""
        from vitco.deployments import supervised

        settings, rows = _rows(as_json)
        with known_errors(as_json):
            row = rows.request_stop(rows.find(ident).id)
            up = supervised(settings)
            deadline = time.monotonic() + STOP_WAIT_S
            while up and rows.get(row.id).pid is not None and time.monotonic() < deadline:
                time.sleep(0.2)  # serve sees the request within a poll and stops the app
            row = rows.get(row.id)
        if as_json:
            emit_json(row_json(row, up))
            return
        console.print(f"deployment {row.id} stopped; {row.url} no longer answers", highlight=False)

    @group.command("logs")
    def logs(
        ident: IdArg,
        lines: Annotated[int, typer.Option("--lines", "-n", min=1, help="How many.")] = 100,
        as_json: JsonOpt = False,
    ) -> None:
        """Print the end of the app's output (its current or last process's)."""
        from vitco.deployments.logs import tail

        _, rows = _rows(as_json)
        with known_errors(as_json):
            row = rows.find(ident)
        shown = tail(Path(row.log_path) if row.log_path else None, lines)
        if as_json:
            emit_json({"id": row.id, "lines": shown})
            return
        for line in shown:
            console.print(line, highlight=False, markup=False, soft_wrap=True)
