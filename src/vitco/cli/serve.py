"""`vitco serve`: the REST API (``/v1``, OpenAPI at ``/v1/openapi.json``) with an in-process
worker that executes the runs it is asked for (the embedded mode: the SQLite store of the
data dir, nothing else to start). Its log lines are JSON on stderr (``VITCO_LOG_FORMAT``,
``VITCO_LOG_LEVEL``; see ``vitco.observability.logging``)."""

from __future__ import annotations

from typing import Annotated

import typer

from vitco.cli.models import ConfigOpt, model_settings
from vitco.cli.output import err_console, known_errors

SHUTDOWN_S = 3  # how long Ctrl-C waits for open requests (an SSE stream is one) to end


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: Annotated[
            str, typer.Option("--host", help="Address to listen on (default: this machine only).")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8420,
        config: ConfigOpt = None,
    ) -> None:
        """Serve the REST API, the dashboard (/) and the client portal (/portal), and execute
        the runs they start, until Ctrl-C.

        Callers need an API key: vitco tenants create NAME, then
        vitco keys create --tenant NAME --role admin.
        """
        import uvicorn

        from vitco.bootstrap import build_api, build_redactor, configure_logging
        from vitco.cli.process import freeze_heap

        settings = model_settings(False, config)
        with known_errors(False):
            redactor = build_redactor(settings)  # one for the logs, the store and the API
            undo = configure_logging(settings, redactor=redactor)
            app = build_api(settings, redactor=redactor)
            freeze_heap()
        err_console.print(
            f"vitco serve on http://{host}:{port}/v1 (OpenAPI: /v1/openapi.json; dashboard "
            f"http://{host}:{port}/, client portal /portal); data dir {settings.home}",
            highlight=False,
        )
        try:  # live event streams never end by themselves: give them a moment, then close
            uvicorn.run(
                app,
                host=host,
                port=port,
                log_level="warning",
                ws="websockets-sansio",
                timeout_graceful_shutdown=SHUTDOWN_S,
                log_config=None,
            )
        finally:
            undo()
