"""``/healthz`` and ``/readyz`` of a ``vitco worker`` (``--health-port``), for an orchestrator's
liveness and readiness probes.

``/healthz`` answers 200 while the process is alive and its HTTP thread runs. ``/readyz``
answers 200 when the database and the run queue answer and the worker is taking jobs, else 503
with what is wrong (a draining worker is not ready: it takes nothing more). Both answer JSON and
nothing else; any other path or method is 404/405.

Written on the standard library's ``http.server`` rather than FastAPI/uvicorn: two fixed GET
routes with no input to validate, answered from a daemon thread, do not need an ASGI stack, a
second event loop or their import time in every worker; the server binds 127.0.0.1 unless
told otherwise.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vitco.jobs.embedded import EmbeddedWorker

logger = logging.getLogger("vitco.jobs.health")

Check = Callable[[], str | None]
"""A readiness check: None when fine, else what is wrong."""


class HealthServer:
    """Serves the probes on ``host:port`` (port 0: any free one, see ``port``)."""

    def __init__(self, checks: dict[str, Check], *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.checks = checks
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    self._answer(200, {"status": "ok"})
                elif self.path == "/readyz":
                    failed = outer.failures()
                    body = {"status": "fail" if failed else "ok", "failed": failed}
                    self._answer(503 if failed else 200, body)
                else:
                    self._answer(404, {"error": {"code": "not_found", "message": "no such probe"}})

            def do_POST(self) -> None:
                self._answer(405, {"error": {"code": "method_not_allowed", "message": "GET only"}})

            do_PUT = do_DELETE = do_PATCH = do_POST

            def _answer(self, status: int, body: Mapping[str, object]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                logger.debug("probe %s", format % args)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="vitco-worker-health", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def failures(self) -> dict[str, str]:
        """What the readiness checks found wrong (empty when ready)."""
        failed = {}
        for name, check in self.checks.items():
            try:
                problem = check()
            except Exception as exc:  # a check that raises has found its problem
                problem = f"{type(exc).__name__}: {exc}"
            if problem is not None:
                failed[name] = problem[:500]
        return failed

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()


def worker_checks(worker: EmbeddedWorker) -> dict[str, Check]:
    """The readiness checks of a worker: its database, its queue, and whether it still takes
    jobs."""
    from sqlalchemy import text

    def database() -> str | None:
        with worker.store.sessions() as s:
            s.execute(text("SELECT 1"))
        return None

    def queue() -> str | None:
        worker.queue.stats()
        return None

    def taking() -> str | None:
        return "draining: it takes no more jobs" if worker.draining else None

    return {"database": database, "queue": queue, "worker": taking}
