"""`vitco worker`: resume runs whose process died (their lease expired)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from vitco.cli.models import ConfigOpt, model_settings
from vitco.cli.output import console, emit_json, known_errors

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        burst: Annotated[
            bool, typer.Option("--burst", help="Recover what is orphaned now, then exit.")
        ] = False,
        poll: Annotated[
            float, typer.Option("--poll", min=0.1, help="Seconds between looks for orphans.")
        ] = 5.0,
        as_json: JsonOpt = False,
        config: ConfigOpt = None,
    ) -> None:
        """Watch for runs whose executing process died and resume them from their last
        checkpoint, without repeating completed model calls or side effects."""
        from vitco.bootstrap import resume_run
        from vitco.jobs import recover
        from vitco.store import open_store

        settings = model_settings(as_json, config)
        handled: list[dict[str, object]] = []
        with known_errors(as_json):
            store = open_store(settings)
            while True:
                for r in recover(settings, store, lambda run_id: resume_run(settings, run_id)):
                    handled.append({"run_id": r.run_id, "status": r.status, "reason": r.reason})
                    if not as_json:
                        console.print(f"resumed {r.run_id}: {r.status}", highlight=False)
                if burst:
                    break
                try:
                    time.sleep(poll)
                except KeyboardInterrupt:
                    break
        if as_json:
            emit_json({"resumed": handled})
        elif not handled:
            console.print("no orphaned runs", highlight=False)
