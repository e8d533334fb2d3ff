"""`vitco worker`: execute queued runs, up to N at once, and resume runs whose process died."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Annotated

import typer

from vitco.cli.models import ConfigOpt, model_settings
from vitco.cli.output import console, emit_json, err_console, known_errors

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        concurrency: Annotated[
            int | None,
            typer.Option(
                "--concurrency",
                "-c",
                min=1,
                max=64,
                help="Runs executed at once (default: VITCO_WORKER_CONCURRENCY, 4).",
            ),
        ] = None,
        burst: Annotated[
            bool,
            typer.Option(
                "--burst", help="Work until the queue is empty (orphans included), then exit."
            ),
        ] = False,
        poll: Annotated[
            float,
            typer.Option(
                "--poll", min=0.1, help="Seconds between looks at the queue and for orphans."
            ),
        ] = 2.0,
        health_port: Annotated[
            int | None,
            typer.Option(
                "--health-port",
                min=0,
                max=65535,
                help="Serve /healthz (alive) and /readyz (database and queue answer) on this port.",
            ),
        ] = None,
        health_host: Annotated[
            str, typer.Option("--health-host", help="Address the probes listen on.")
        ] = "127.0.0.1",
        as_json: JsonOpt = False,
        config: ConfigOpt = None,
    ) -> None:
        """Take runs from the run queue (VITCO_QUEUE: Redis or the database) and execute them,
        renewing each job's lease while it runs; queue a resume of every run whose executing
        process died, which continues from its last checkpoint without repeating completed
        model calls or side effects.

        SIGTERM or Ctrl-C: take nothing more, let the running steps finish, hand the runs back
        to the queue (another worker resumes them at once) and exit. A second one: stop the
        runs now and hand them back."""
        from vitco.bootstrap import build_worker, configure_logging
        from vitco.cli.process import freeze_heap
        from vitco.jobs.health import HealthServer, worker_checks

        settings = model_settings(as_json, config)
        with known_errors(as_json):
            # its log lines as vitco serve's: structured on stderr, at VITCO_LOG_LEVEL
            undo_logging = configure_logging(settings)
            pool = build_worker(settings, concurrency=concurrency, burst=burst, poll_s=poll)
            freeze_heap()
            store = pool.store
            health = None
            if health_port is not None:
                health = HealthServer(worker_checks(pool), host=health_host, port=health_port)
                health.start()
            signals = {"count": 0}

            def stop(signum: int, frame: FrameType | None) -> None:
                signals["count"] += 1
                if signals["count"] == 1:
                    pool.drain()
                else:
                    pool.hand_back()

            previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
            if not as_json:
                where = f"; probes on {health_host}:{health.port}" if health else ""
                err_console.print(
                    f"worker {pool.name}: {pool.concurrency} at once from the "
                    f"{settings.resolved_queue} queue{where}",
                    highlight=False,
                )
            try:
                pool.start()  # which also looks for orphaned runs every poll
                while not pool.wait(poll):
                    pass
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
                if health is not None:
                    health.close()
                undo_logging()
            done = pool.done()
        jobs = []
        for d in done:
            run = store.get_run(d.job.run_id)
            jobs.append(
                {
                    "job_id": d.job.id,
                    "run_id": d.job.run_id,
                    "action": d.job.action,
                    "ending": d.ending,
                    "run_status": run.status,
                }
            )
        resumed = []
        for run_id in dict.fromkeys(pool.recovered):
            run = store.get_run(run_id)
            resumed.append({"run_id": run_id, "status": run.status, "reason": run.reason})
        if as_json:
            emit_json({"worker": pool.name, "jobs": jobs, "resumed": resumed})
            return
        for job in jobs:
            console.print(
                f"job {job['job_id']} ({job['action']} {job['run_id']}): {job['ending']}, "
                f"run {job['run_status']}",
                highlight=False,
            )
        if not jobs:
            console.print("no jobs", highlight=False)
