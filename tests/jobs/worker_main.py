"""``vitco`` with the held workflow's steps registered (``tests/jobs/holding.py``), for tests
that run ``vitco worker`` as a process of its own: ``python -m tests.jobs.worker_main worker``."""

from __future__ import annotations

from tests.jobs.holding import register
from vitco.cli.app import main

register()
main()
